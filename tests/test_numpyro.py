"""``sampler="numpyro"`` (the GPU path) runs on a CPU and gives the usual tables.

No GPU is needed: JAX runs the same vectorised-chain program on the CPU. The run
is tiny (2 geos x 20 weeks, one channel, 2 chains x 100 draws) but marked slow: XLA compiles NumPyro's NUTS
loop (~70 s at load 9 on 2 cores) and PyMC evaluates the start points op by op
(hundreds of one-op compiles); sampling itself takes seconds.
"""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("numpyro")

import geommm as gm  # noqa: E402


@pytest.mark.slow
def test_numpyro_sampler_runs_vectorised_and_gives_the_usual_tables(map_fit, tiny_panel):
    # the smallest model there is (one channel, no controls, 2 geos x 20 weeks): XLA's
    # compile of the NUTS loop and PyMC's start-point ops grow with the graph
    result = tiny_panel(n_geos=2, n_weeks=20, n_channels=1, n_lift_tests=0)
    model = gm.GeoMMM("revenue ~ media(tv_impressions, spend=tv_spend, name='tv')",
                      data=result.panel, geo="geo", time="week")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(sampler="numpyro", chains=2, draws=100, tune=100, seed=1, progressbar=False,
                        max_treedepth=6)
    post = fit.idata.posterior
    assert (post.sizes["chain"], post.sizes["draw"]) == (2, 100)
    assert fit.settings.sampler == "numpyro"
    assert {"diverging", "n_steps"} <= set(fit.idata.sample_stats.data_vars)
    assert int(fit.idata.sample_stats["n_steps"].max()) <= 2**6 - 1  # max_treedepth reached NumPyro
    for by in ("channel", "geo"):
        table = fit.roi(by=by)
        assert table.columns == map_fit.roi(by=by).columns
        assert table["roi_mean"].is_finite().all() and (table["roi_hdi_low"] < table["roi_hdi_high"]).all()
    d = fit.diagnostics()
    assert d.max_r_hat < 1.2  # 2 x 100 draws: a loose bar, but chains that never mixed fail it
