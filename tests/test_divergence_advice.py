"""The advice a divergence verdict gives names only what the fit's sampler can still try."""

from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest

from geommm.analysis.diagnostics import diagnostics


def _fit(sampler: str, mass_matrix: str, divergences: int):
    """A stand-in fit: two well-mixed chains of one parameter with ``divergences`` flagged."""
    rng = np.random.default_rng(0)
    diverging = np.zeros((2, 500), dtype=bool)
    diverging[0, :divergences] = True
    idata = az.from_dict(posterior={"x": rng.standard_normal((2, 500))}, sample_stats={"diverging": diverging})
    fit = SimpleNamespace(
        settings=SimpleNamespace(method="nuts", chains=2, draws=500, sampler=sampler, mass_matrix=mass_matrix),
        idata=idata, posterior=idata.posterior, sample_stats=idata.sample_stats,
    )
    fit._once = lambda key, compute: compute()
    return fit


@pytest.mark.parametrize(("sampler", "mass_matrix", "suggested"), [
    ("nutpie", "draws", True),
    ("nutpie", "gradients", True),
    ("nutpie", "low_rank", False),  # already learning correlations
    ("pymc", "draws", False),  # a nutpie option
    ("numpyro", "draws", False),
])
def test_low_rank_mass_matrix_is_suggested_only_where_it_applies(sampler, mass_matrix, suggested):
    d = diagnostics(_fit(sampler, mass_matrix, divergences=1))
    assert d.verdict == "warning" and d.divergences == 1
    advice = d.messages[0]
    assert advice.startswith("1 divergent transitions") and "target_accept" in advice
    assert ("mass_matrix='low_rank'" in advice) is suggested


def test_no_divergences_no_advice():
    d = diagnostics(_fit("nutpie", "draws", divergences=0))
    assert d.verdict == "ok" and not any("divergent" in m for m in d.messages)
