"""``max_treedepth``: NUTS trajectories stop at 2^D - 1 leapfrog steps, in every path that
samples with nutpie (its threads and geommm's chain processes), and the diagnostics say
when the cap bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from geommm import sampling
from geommm.cli.parser import build_parser
from geommm.config import parse_config
from geommm.errors import FitError


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_nutpie_stops_every_trajectory_at_the_cap(tiny_mmm, processes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = tiny_mmm().fit(draws=20, tune=20, chains=2, seed=1, progressbar=False, max_treedepth=3,
                             chain_processes=processes)
    stats = fit.idata.sample_stats
    assert fit.settings.chain_processes is processes
    assert fit.settings.max_treedepth == 3
    assert int(stats["n_steps"].max()) <= 2**3 - 1
    assert int(stats["depth"].max()) <= 3
    share = float(np.asarray(stats["maxdepth_reached"].values, dtype=bool).mean())
    said = [m for m in fit.diagnostics().messages if "max_treedepth=3" in m]
    # the message appears exactly when more than a tenth of the draws hit the cap
    assert bool(said) == (share > 0.1), (share, said)


@pytest.mark.parametrize("bad", [0, 16, 2.5, "deep"])
def test_a_bad_max_treedepth_is_refused_by_name(bad):
    with pytest.raises(FitError, match="max_treedepth"):
        sampling.check_settings(sampling.SamplerSettings(max_treedepth=bad))


def test_cli_and_config_pass_max_treedepth():
    args = build_parser().parse_args(["fit", "--data", "p.csv", "--formula", "y ~ x", "--out", "o",
                                      "--max-treedepth", "6"])
    assert args.max_treedepth == 6
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit", "--max-treedepth", "16"])
    config = parse_config({"fit": {"max_treedepth": 7}})
    assert config.fit["max_treedepth"] == 7
