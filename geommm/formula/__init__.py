"""Formula strings -> terms -> ModelSpec."""

from geommm.formula.nonmedia import OrganicTerm, TreatmentTerm
from geommm.formula.parse import parse_formula
from geommm.formula.terms import FourierTerm, HolidayTerm, MediaTerm, ModelSpec, TrendTerm

__all__ = ["parse_formula", "ModelSpec", "MediaTerm", "FourierTerm", "TrendTerm", "HolidayTerm", "OrganicTerm", "TreatmentTerm"]
