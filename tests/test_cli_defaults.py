"""The command line's defaults match the demo and the docs: the week column is ``week``,
the demo runs 4 chains, and a missing key column names the options that fix it (#17)."""

from __future__ import annotations

import polars as pl
import pytest
from cli_helpers import assert_user_error, run

from geommm.cli.batch import load_jobs
from geommm.cli.console import DEFAULT_TIME
from geommm.cli.demo import DEMO_NUTS


@pytest.fixture
def week_panel(tmp_path):
    """A tiny panel whose keys are ``geo`` and ``week``, like the demo and the simulator."""
    weeks = pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 3, 25), "1w", eager=True)
    frame = pl.DataFrame(
        {
            "geo": ["a"] * len(weeks) + ["b"] * len(weeks),
            "week": [*weeks, *weeks],
            "revenue": [100.0 + i for i in range(2 * len(weeks))],
            "tv": [10.0 + (i % 3) for i in range(2 * len(weeks))],
        }
    )
    path = tmp_path / "panel.csv"
    frame.write_csv(path)
    return path, frame


def test_validate_reads_a_week_column_without_time(week_panel):
    path, _ = week_panel
    code, out, err = run("validate", path, "--kpi", "revenue", "--media", "tv")
    assert code == 0, err
    assert "2 geos x 13 weeks" in out


def test_a_missing_week_column_lists_the_columns_and_names_time(week_panel, tmp_path):
    _, frame = week_panel
    path = tmp_path / "dated.csv"
    frame.rename({"week": "date"}).write_csv(path)
    code, _, err = run("validate", path, "--kpi", "revenue")
    assert_user_error(code, err, "'week'", "'date'", "--time COL", "Available columns")
    code, _, err = run("validate", path, "--kpi", "revenue", "--time", "date")
    assert code == 0, err


def test_fit_without_time_reads_week(week_panel, tmp_path):
    """``geommm fit`` gets as far as the formula with the default week column."""
    path, _ = week_panel
    code, _, err = run(
        "fit", "--data", path, "--formula", "revenue ~ nope(", "--out", tmp_path / "o"
    )
    assert code == 1
    assert "2 geos x 13 weeks" in err and "cannot parse formula" in err  # read, then the formula
    assert "key column" not in err


def test_help_texts_state_the_real_defaults():
    _, fit_help, _ = run("fit", "--help")
    assert f"else '{DEFAULT_TIME}'" in fit_help and "else 'time'" not in fit_help
    _, validate_help, _ = run("validate", "--help")
    assert "(default week)" in " ".join(validate_help.split())
    _, demo_help, _ = run("demo", "--help")
    text = " ".join(demo_help.split())
    assert f"{DEMO_NUTS['chains']} chains" in text
    assert f"number of chains (default {DEMO_NUTS['chains']})" in text
    assert DEMO_NUTS["chains"] == 4
    # the warm-up and draws the demo runs are the ones its help states (they drifted apart once)
    assert f"warm-up iterations per chain (default {DEMO_NUTS['tune']})" in text
    assert f"({DEMO_NUTS['tune']} warm-up + {DEMO_NUTS['draws']} draws)" in text
    # and `geommm fit` states GeoMMM.fit's own defaults
    from geommm.sampling import SamplerSettings

    fit_text = " ".join(fit_help.split())
    assert f"warm-up iterations per chain (default {SamplerSettings().tune})" in fit_text
    assert f"posterior draws per chain (default {SamplerSettings().draws})" in fit_text


def test_fit_many_jobs_default_to_the_week_column(tmp_path, week_panel):
    path, _ = week_panel
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        f'[defaults]\ndata = "{path.as_posix()}"\nformula = "revenue ~ media(tv)"\n'
        '[[jobs]]\nname = "a"\n[[jobs]]\nname = "b"\ntime = "date"\n'
    )
    first, second = load_jobs(jobs)
    assert first.time == "week" and first.geo == "geo"
    assert second.time == "date"
