"""Formula strings -> terms -> ModelSpec."""

from geommm.formula.parse import parse_formula
from geommm.formula.terms import FourierTerm, MediaTerm, ModelSpec, TrendTerm

__all__ = ["parse_formula", "ModelSpec", "MediaTerm", "FourierTerm", "TrendTerm"]
