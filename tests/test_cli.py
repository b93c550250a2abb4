"""The ``geommm`` command line: help, exit codes, one-line errors and the files it writes.

Commands run in-process through ``geommm.cli.main`` (a subprocess would pay
the import of PyMC per call); one MAP fit is shared by the report/optimize
tests, so the module stays well under a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from geommm.config import ConfigError, parse_config

COMMANDS = ("validate", "simulate", "demo", "fit", "report", "optimize", "design-test")
MERIDIAN = Path("/work/shared/data/meridian_geo_media.csv")
FIT_FILES = (
    "fit.nc",
    "roi_geo.csv",
    "roi_channel.csv",
    "marginal_roi_geo.csv",
    "contributions.csv",
    "diagnostics.json",
)


from cli_helpers import assert_user_error, run  # noqa: E402  (shared with the reliability tests)


# --- help and usage -----------------------------------------------------------------------


def test_top_level_help_lists_every_command():
    code, out, _ = run("--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    code, out, _ = run(command, "--help")
    assert code == 0
    assert out.startswith(f"usage: geommm {command}")
    assert "example:" in out


def test_console_entry_point_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "geommm.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("geommm ")


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "argv",
    [
        ("validate",),  # PANEL missing
        ("frobnicate",),
        ("simulate", "--geos", "0", "--out", "x"),
        ("simulate", "--weeks", "many", "--out", "x"),
        ("fit", "--method", "hmc"),
        ("optimize", "somewhere", "--bounds", "1.2,0.8"),
        ("optimize", "somewhere", "--budget", "-5"),
    ],
)
def test_usage_errors_exit_2(argv):
    code, _, err = run(*argv)
    assert code == 2
    assert "usage: geommm" in err


# --- validate -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_sim(tiny_panel):
    return tiny_panel(n_geos=3, n_weeks=40, n_channels=2, seed=3, n_lift_tests=1)


@pytest.fixture(scope="module")
def panel_csv(small_sim, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("panel") / "panel.csv"
    small_sim.panel.write_csv(path)
    return path


def test_validate_good_panel(panel_csv):
    code, out, err = run(
        "validate",
        panel_csv,
        "--geo",
        "geo",
        "--time",
        "week",
        "--kpi",
        "revenue",
        "--media",
        "tv_impressions",
        "search_spend",
        "--spend",
        "tv_spend",
        "search_spend",
        "--controls",
        "price_index",
        "promo",
    )
    assert code == 0, err
    assert "3 geos x 40 weeks" in out
    assert "tv_impressions" in out and "price_index" in out


@pytest.mark.skipif(not MERIDIAN.is_file(), reason="shared Meridian sample panel not present")
def test_validate_meridian_sample():
    channels = [f"Channel{i}_spend" for i in range(4)]
    code, out, err = run(
        "validate", MERIDIAN, "--geo", "geo", "--time", "time", "--media", *channels
    )
    assert code == 0, err
    assert "20 geos" in out and "156 weeks" in out
    assert all(c in out for c in channels)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("change", "args", "named"),
    [
        (None, ("--media", "radio_spend"), "radio_spend"),
        (None, ("--time", "date"), "date"),
        ("negative_spend", ("--spend", "search_spend"), "search_spend"),
        ("text_in_kpi", ("--kpi", "revenue"), "revenue"),
        ("bad_date", (), "week"),
    ],
)
def test_validate_bad_panel(panel_csv, tmp_path, change, args, named):
    frame = pl.read_csv(panel_csv)
    if change == "negative_spend":
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 5)
            .then(-1.0)
            .otherwise(pl.col("search_spend"))
            .alias("search_spend")
        )
    elif change == "text_in_kpi":
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 7)
            .then(pl.lit("n/a"))
            .otherwise(pl.col("revenue").cast(pl.String))
            .alias("revenue")
        )
    elif change == "bad_date":
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 2)
            .then(pl.lit("someday"))
            .otherwise(pl.col("week").cast(pl.String))
            .alias("week")
        )
    path = tmp_path / "bad.csv"
    frame.write_csv(path)
    base = ("--time", "week") if "--time" not in args else ()
    code, _, err = run("validate", path, "--geo", "geo", *base, *args)
    assert_user_error(code, err, named)


@pytest.mark.bad_input
def test_validate_missing_file(tmp_path):
    code, _, err = run("validate", tmp_path / "nope.csv")
    assert_user_error(code, err, "nope.csv", "not found")


# --- simulate and output folders ----------------------------------------------------------


def test_simulate_writes_panel_truth_and_formula(tmp_path):
    out_dir = tmp_path / "sim"
    code, out, err = run(
        "simulate",
        "--geos",
        "2",
        "--weeks",
        "20",
        "--channels",
        "1",
        "--lift-tests",
        "0",
        "--seed",
        "4",
        "--out",
        out_dir,
    )
    assert code == 0, err
    for name in ("panel.parquet", "lift_tests.csv", "truth.json", "truth_roi.parquet"):
        assert (out_dir / name).is_file()
        assert str(out_dir / name) in out
    assert "formula: revenue ~" in out
    assert pl.read_parquet(out_dir / "panel.parquet")["geo"].n_unique() == 2


def test_simulate_strict_collinear_makes_search_a_multiple_of_tv(tmp_path):
    out_dir = tmp_path / "sim"
    code, _, err = run("simulate", "--geos", "3", "--weeks", "30", "--channels", "2", "--lift-tests",
                       "0", "--strict-collinear", "--out", out_dir)
    assert code == 0, err
    panel = pl.read_parquet(out_dir / "panel.parquet").filter(pl.col("tv_spend") > 0)
    ratio = panel.group_by("geo").agg((pl.col("search_spend") / pl.col("tv_spend")).std().alias("sd"),
                                      (pl.col("search_spend") / pl.col("tv_spend")).mean().alias("m"))
    assert (ratio["sd"] / ratio["m"]).max() < 1e-9
    code, _, err = run("simulate", "--geos", "3", "--weeks", "30", "--channels", "2",
                       "--strict-collinear", "--no-collinear", "--out", tmp_path / "x")
    assert code == 2 and "not allowed with" in err


@pytest.mark.bad_input
def test_refuses_to_overwrite_without_flag(tmp_path):
    out_dir = tmp_path / "sim"
    tiny = ("simulate", "--geos", "2", "--weeks", "12", "--channels", "1", "--lift-tests", "0",
            "--out", out_dir)
    assert run(*tiny)[0] == 0
    code, _, err = run(*tiny)
    assert_user_error(code, err, str(out_dir), "--overwrite")
    code, _, err = run(*tiny, "--overwrite")
    assert code == 0, err


@pytest.mark.bad_input
@pytest.mark.parametrize("command", ["demo", "fit"])
def test_model_commands_refuse_a_used_folder_before_fitting(tmp_path, panel_csv, command):
    (tmp_path / "keep.txt").write_text("earlier results")
    argv = (
        ["demo", "--out", tmp_path]
        if command == "demo"
        else [
            "fit",
            "--data",
            panel_csv,
            "--time",
            "week",
            "--formula",
            "revenue ~ media(search_spend)",
            "--out",
            tmp_path,
        ]
    )
    code, _, err = run(*argv)
    assert_user_error(code, err, "not empty", "--overwrite")
    assert (tmp_path / "keep.txt").read_text() == "earlier results"


# --- fit -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted(small_sim, panel_csv, tmp_path_factory):
    """One MAP fit through the CLI; config file and flags together (flags win)."""
    root = tmp_path_factory.mktemp("fit")
    lifts = root / "lifts.csv"
    small_sim.lift_tests.write_csv(lifts)
    config = root / "run.toml"
    formula = small_sim.formula.replace('"', '\\"')
    config.write_text(
        '[data]\ngeo = "geo"\ntime = "week"\nlift_tests = "lifts.csv"\n\n'
        f'[model]\nformula = "{formula}"\n\n'
        '[fit]\nmethod = "advi"\nseed = 2\n\n'
        "[priors.tv]\nroi = [0.5, 4]\n",
        encoding="utf-8",
    )
    out_dir = root / "out"
    code, out, err = run(
        "fit", "--config", config, "--data", panel_csv, "--method", "map", "--out", out_dir
    )
    return {"code": code, "out": out, "err": err, "dir": out_dir, "config": config}


def test_fit_writes_the_result_files(fitted):
    assert fitted["code"] == 0, fitted["err"]
    for name in FIT_FILES:
        assert (fitted["dir"] / name).is_file(), name
    roi = pl.read_csv(fitted["dir"] / "roi_channel.csv")
    assert roi["channel"].to_list() == ["tv", "search"]
    assert {"roi_mean", "roi_hdi_low", "roi_hdi_high"} <= set(roi.columns)
    assert "National ROI" in fitted["out"]
    assert "fitting" in fitted["err"]  # progress goes to stderr


def test_fit_flags_override_the_config(fitted):
    record = json.loads((fitted["dir"] / "diagnostics.json").read_text())
    assert record["settings"]["method"] == "map"  # --method beat [fit] method = "advi"
    assert record["settings"]["seed"] == 2  # from the config


@pytest.mark.bad_input
def test_fit_needs_a_formula(panel_csv, tmp_path):
    code, _, err = run("fit", "--data", panel_csv, "--time", "week", "--out", tmp_path / "o")
    assert_user_error(code, err, "--formula")


@pytest.mark.bad_input
def test_fit_formula_error_is_one_line(panel_csv, tmp_path):
    code, _, err = run(
        "fit",
        "--data",
        panel_csv,
        "--time",
        "week",
        "--out",
        tmp_path / "o",
        "--formula",
        "revenue ~ trend() + media(radio_spend, name='radio')",
    )
    assert_user_error(code, err, "radio_spend")


# --- report and optimize on the saved fit --------------------------------------------------


def test_report_from_saved_fit(fitted, tmp_path):
    assert fitted["code"] == 0, fitted["err"]
    target = tmp_path / "again.html"
    code, out, err = run("report", fitted["dir"], "--out", target)
    assert code == 0, err
    assert target.is_file() and target.stat().st_size > 1000
    assert str(target.resolve()) in out


def test_optimize_from_saved_fit(fitted, tmp_path):
    assert fitted["code"] == 0, fitted["err"]
    target = tmp_path / "allocation.csv"
    code, out, err = run("optimize", fitted["dir"], "--bounds", "0.8,1.2", "--out", target)
    assert code == 0, err
    table = pl.read_csv(target)
    assert set(table["channel"].to_list()) == {"tv", "search"}
    assert "Allocation by channel" in out


def test_design_test_from_saved_fit(fitted, tmp_path):
    assert fitted["code"] == 0, fitted["err"]
    target = tmp_path / "design.csv"
    code, out, err = run("design-test", fitted["dir"], "--channel", "tv", "--weeks", "4", "6",
                         "--max-geos", "2", "--out", target)
    assert code == 0, err
    table = pl.read_csv(target)
    assert set(table["channel"]) == {"tv"} and set(table["weeks"]) <= {4, 6}
    assert table["n_geos"].max() <= 2
    assert "Identification" in out and "Best tests" in out


@pytest.mark.bad_input
def test_design_test_names_a_bad_argument(fitted, tmp_path):
    code, _, err = run("design-test", fitted["dir"], "--channel", "radio", "--out", tmp_path / "d.csv")
    assert_user_error(code, err, "channels", "radio")


@pytest.mark.bad_input
def test_report_without_a_fit(tmp_path):
    code, _, err = run("report", tmp_path)
    assert_user_error(code, err, "no saved fit", str(tmp_path))


# --- config files --------------------------------------------------------------------------


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[fit]\ndrawz = 100\n", "'fit.drawz'"),
        ("[fitt]\ndraws = 100\n", "'fitt'"),
        ('[fit]\ndraws = "many"\n', "'fit.draws'"),
        ("[fit]\nchains = 0\n", "'fit.chains'"),
        ('[fit]\nmethod = "hmc"\n', "'fit.method'"),
        ("[data]\ngeo = 3\n", "'data.geo'"),
        ("[priors.tv]\nroi = [0, 4]\n", "'priors.tv.roi[0]'"),
        ('[priors.kpi_level]\ndist = "Cauchy"\n', "'priors.kpi_level.dist'"),
        ("[fit\n", "not valid TOML"),
    ],
)
def test_config_errors_name_the_key(tmp_path, panel_csv, toml, named):
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    code, _, err = run(
        "fit",
        "--config",
        config,
        "--data",
        panel_csv,
        "--formula",
        "revenue ~ trend()",
        "--out",
        tmp_path / "o",
    )
    assert_user_error(code, err, "bad.toml", named)
    assert not (tmp_path / "o").exists()  # checked before anything is written


@pytest.mark.bad_input
def test_missing_config_file(tmp_path):
    code, _, err = run("fit", "--config", tmp_path / "none.toml")
    assert_user_error(code, err, "none.toml", "not found")


def test_config_paths_are_relative_to_the_file(tmp_path):
    config = parse_config(
        {"data": {"panel": "p.csv"}, "output": {"dir": "out"}, "fit": {"draws": 2.0}},
        source=tmp_path / "sub" / "run.toml",
    )
    assert config.panel == tmp_path / "sub" / "p.csv"
    assert config.out == tmp_path / "sub" / "out"
    assert config.fit == {"draws": 2} and isinstance(config.fit["draws"], int)


def test_config_roi_interval_becomes_a_tuple():
    config = parse_config({"priors": {"tv": {"roi": [2, 4]}, "roi": [1, 3]}})
    assert config.priors == {"tv": {"roi": (2, 4)}, "roi": (1, 3)}


@pytest.mark.parametrize("key, choices, in_file, on_command_line, bad", [
    ("mass_matrix", "MASS_MATRICES", "gradients", "draws", "dense"),
    ("precision", "PRECISIONS", "float32", "float64", "float16"),
])
def test_fit_choice_from_config_and_flag_reaches_the_fit(key, choices, in_file, on_command_line, bad):
    from geommm import sampling
    from geommm.cli import parser

    # the CLI keeps its own copy to import fast
    assert getattr(parser, choices) == getattr(sampling, choices)
    config = parse_config({"fit": {key: in_file}})
    assert config.fit == {key: in_file}
    assert config.merged(**{key: on_command_line}).fit == {key: on_command_line}
    with pytest.raises(ConfigError, match=key):
        parse_config({"fit": {key: bad}})


@pytest.mark.bad_input
def test_parse_config_raises_config_error():
    with pytest.raises(ConfigError, match=r"'output\.overwrite' must be true or false"):
        parse_config({"output": {"overwrite": "yes"}})


@pytest.mark.slow
def test_demo_fast_compares_with_truth(tmp_path):
    code, out, err = run("demo", "--fast", "--out", tmp_path / "demo")
    assert code == 0, err
    assert "true_roi" in out and "covered" in out
    for name in ("fit.nc", "roi_channel.csv", "roi_geo.csv"):
        assert (tmp_path / "demo" / name).is_file()
    per_geo = pl.read_csv(tmp_path / "demo" / "roi_geo.csv")
    assert per_geo.height == 40 and {"true_roi", "covered"} <= set(per_geo.columns)


# --- decision outputs: budget everywhere, optimize parity, --strict, GeoLift ----------------


def test_fit_writes_the_default_plan_and_report_picks_up_a_saved_one(fitted, tmp_path):
    assert fitted["code"] == 0, fitted["err"]
    folder = fitted["dir"]
    assert (folder / "allocation_channel.csv").is_file()
    assert (folder / "allocation_channel_summary.json").is_file()
    assert "Budget:" in fitted["out"]
    code, _, err = run("optimize", folder, "--by", "geo", "--report")
    assert code == 0, err
    target = tmp_path / "with-plan.html"
    code, _, err = run("report", folder, "--out", target)
    assert code == 0, err
    assert "allocation_geo.csv" in err  # the newest saved plan is the one shown
    page = target.read_text()
    assert 'class="headline"' in page and "Largest geo moves" in page
    (folder / "allocation_geo.csv").unlink()
    (folder / "allocation_geo_summary.json").unlink()


@pytest.mark.parametrize(
    ("flags", "check"),
    [
        (("--bounds", "0.8,1.2", "tv=0.9:1.1"), lambda t: _ratio(t, "tv") >= 0.9 - 1e-6),
        (("--fixed", "search"), lambda t: abs(_ratio(t, "search") - 1) < 1e-9),
        (("--weeks", "13"), lambda t: t.height == 2),
        (("--by", "geo", "--fixed", "geo_00:tv"), lambda t: t.height == 6),
        (("--objective", "risk_adjusted", "--risk-quantile", "0.2"), lambda t: t.height == 2),
        (("--target-mroi", "0.5", "--bounds", "0.5,2"), lambda t: t.height == 2),
        (("--hdi-prob", "0.8"), lambda t: t.height == 2),
        (("--effectiveness", "average"), lambda t: t.height == 2),  # static channels: accepted, no change
    ],
)
def test_optimize_covers_every_option(fitted, tmp_path, flags, check):
    assert fitted["code"] == 0, fitted["err"]
    target = tmp_path / "plan.csv"
    code, out, err = run("optimize", fitted["dir"], *flags, "--out", target)
    assert code == 0, err
    table = pl.read_csv(target)
    assert check(table), table
    assert "null" not in out and "%" in out
    assert (tmp_path / "plan_summary.json").is_file()


def _ratio(table: pl.DataFrame, channel: str) -> float:
    row = table.filter(pl.col("channel") == channel)
    return float(row["optimal_spend"].sum() / row["current_spend"].sum())


def test_optimize_bounds_from_a_csv(fitted, tmp_path):
    bounds = tmp_path / "bounds.csv"
    pl.DataFrame({"channel": ["tv", "search"], "lower": [1.0, 0.5], "upper": [1.0, 1.5]}).write_csv(
        bounds
    )
    code, _, err = run("optimize", fitted["dir"], "--bounds", bounds, "--out", tmp_path / "a.csv")
    assert code == 0, err
    assert abs(_ratio(pl.read_csv(tmp_path / "a.csv"), "tv") - 1) < 1e-9


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--bounds", "radio=0.9:1.1"), "radio"),
        (("--national", "tv"), "--by geo"),
        (("--fixed", "radio"), "radio"),
    ],
)
def test_optimize_mistakes_name_the_flag(fitted, flags, named):
    code, _, err = run("optimize", fitted["dir"], *flags)
    assert_user_error(code, err, named)


def test_strict_makes_a_warning_verdict_exit_3(monkeypatch):
    from geommm.cli.commands import STRICT_EXIT, strict_verdict

    class Result:
        def __init__(self, verdict):
            self.verdict = verdict

        def diagnostics(self):
            return SimpleNamespace(verdict=self.verdict)

    assert strict_verdict(Result("warning"), True) == STRICT_EXIT == 3
    assert strict_verdict(Result("fail"), True) == 3
    assert strict_verdict(Result("ok"), True) == 0
    assert strict_verdict(Result("warning"), False) == 0


def test_strict_on_fit_exits_3_end_to_end(fitted, panel_csv, small_sim, tmp_path, monkeypatch):
    from geommm.analysis.diagnostics import Diagnostics
    from geommm.fit import Fit

    warning = Diagnostics(divergences=3, max_r_hat=1.05, min_ess_bulk=50.0, min_ess_tail=40.0,
                          verdict="warning", messages=["R-hat 1.05"])
    monkeypatch.setattr(Fit, "diagnostics", lambda self, *a, **k: warning)
    code, _, err = run(
        "fit", "--data", panel_csv, "--geo", "geo", "--time", "week", "--method", "map",
        "--formula", small_sim.formula, "--strict", "--out", tmp_path / "o",
    )
    assert code == 3, err
    assert (tmp_path / "o" / "fit.nc").is_file()  # results are still written


def test_demo_help_states_the_real_chain_count():
    from geommm.cli.demo import DEMO_NUTS

    _, out, _ = run("demo", "--help")
    assert f"number of chains (default {DEMO_NUTS['chains']})" in " ".join(out.split())


def _geolift_file(small_sim, path: Path, with_channel: bool = True) -> Path:
    lifts = small_sim.lift_tests
    table = pl.DataFrame(
        {
            "location": lifts["geos"].cast(pl.String),
            "treatment_start": lifts["start"],
            "treatment_end": lifts["end"],
            "incremental": lifts["lift"],
            "lower": lifts["lift"] - 2 * lifts["lift_se"],
            "upper": lifts["lift"] + 2 * lifts["lift_se"],
        }
    )
    if with_channel:
        table = table.with_columns(channel=lifts["channel"], spend_delta=lifts["spend_delta"])
    table.write_csv(path)
    return path


def test_lift_tests_accept_geolift_output(small_sim, panel_csv, tmp_path):
    path = _geolift_file(small_sim, tmp_path / "geolift.csv")
    code, out, err = run("validate", panel_csv, "--time", "week", "--lift-tests", path)
    assert code == 0, err
    assert "GeoLift" in err and "1 lift test(s)" in out


@pytest.mark.bad_input
def test_geolift_output_without_channel_says_what_to_add(small_sim, panel_csv, tmp_path):
    path = _geolift_file(small_sim, tmp_path / "geolift.csv", with_channel=False)
    code, _, err = run("validate", panel_csv, "--time", "week", "--lift-tests", path)
    assert_user_error(code, err, "GeoLift", "channel", "spend_delta")


@pytest.mark.bad_input
def test_date_errors_speak_cli(small_sim, tmp_path):
    panel = small_sim.panel.with_columns(pl.col("week").dt.strftime("%d/%m/%Y"))
    path = tmp_path / "dmy.csv"
    panel.write_csv(path)
    code, _, err = run("validate", path, "--time", "week")
    assert code == 1
    assert "--date-format" in err and "date_format=" not in err
