"""CLI fuzz (issue #21): every sub-command with random bad arguments ends cleanly.

Each case runs one sub-command with at least one argument that is wrong on its
own (plus valid noise before it, so the bad value is the one argparse keeps)
and asserts exit code 1 or 2, exactly one ``error:`` line and no traceback.
Every bad argument fails before any fit starts, so the cases take milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from cli_helpers import run
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from geommm import sim

pytestmark = pytest.mark.fuzz

FORMULA = "revenue ~ trend() + (1 | geo) + media(tv_impressions, spend=tv_spend, name='tv')"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli_fuzz")
    result = sim.simulate(n_geos=2, n_weeks=20, n_channels=1, seed=3, n_lift_tests=1)
    result.panel.write_csv(root / "panel.csv")
    text = result.panel.with_columns(pl.col("revenue").cast(pl.String))  # one word among numbers,
    text[3, "revenue"] = "n/a"  # whatever digits the panel's KPI starts with
    text.write_csv(root / "text_kpi.csv")
    result.panel.with_columns(pl.lit(0.0).alias("revenue")).write_csv(root / "zero_kpi.csv")
    result.lift_tests.with_columns(pl.lit("geo_99").alias("geos")).write_csv(root / "lifts_geo.csv")
    (root / "lifts_junk.csv").write_text("a;b\n1;2\n")
    (root / "bad.toml").write_text("[fit]\ndrawz = 3\n")
    (root / "broken.toml").write_text("[fit\n")
    (root / "afile.txt").write_text("not a folder\n")
    (root / "used").mkdir()
    (root / "used" / "keep.txt").write_text("earlier\n")
    (root / "fakefit").mkdir()
    (root / "fakefit" / "fit.nc").write_text("not a netCDF file\n")
    for name, text in {
        "jobs_key.toml": '[[jobs]]\nname = "a"\nformula = "y ~ media(x)"\ndata = "p.csv"\n'
                         "foo = 1\n",
        "jobs_fit.toml": '[[jobs]]\nname = "a"\nformula = "y ~ media(x)"\ndata = "p.csv"\n'
                         "fit = { drawz = 3 }\n",
        "jobs_none.toml": "[defaults]\n",
        "jobs_dupe.toml": '[[jobs]]\nname = "a"\nformula = "y ~ media(x)"\ndata = "p.csv"\n' * 2,
        "jobs_toml.toml": "[[jobs]\n",
    }.items():
        (root / name).write_text(text)
    return {"root": root}


def p(name: str) -> str:
    """A placeholder for a file of the fixture, resolved per case."""
    return f"@{name}"


NUMBERS = ["0", "-1", "abc", "1.5", "nan", "", "1e999"]
# Positional arguments: (value, wrong on its own?).
POSITIONAL = {
    "validate": [(p("panel.csv"), False), (p("missing.csv"), True), (p("afile.txt"), True),
                 (p("text_kpi.csv"), False), (p("used"), True)],
    "report": [(p("fakefit"), True), (p("missing_dir"), True), (p("afile.txt"), True)],
    "optimize": [(p("fakefit"), True), (p("missing_dir"), True), (p("used"), True)],
    "fit-many": [(p(name), True) for name in ("missing.toml", "jobs_key.toml", "jobs_fit.toml",
                                              "jobs_none.toml", "jobs_dupe.toml",
                                              "jobs_toml.toml", "afile.txt")],
}
BAD = {
    "validate": [
        ["--kpi", "nope"], ["--media", "radio"], ["--time", "when"], ["--geo", "region"],
        ["--date-format", "%d/%m/%Y"], ["--lift-tests", p("lifts_geo.csv")],
        ["--lift-tests", p("lifts_junk.csv")], ["--lift-tests", p("missing.csv")],
        ["--population", "revenue"], ["--spend", "revenue", "--kpi", "revenue"], ["--bogus"],
        ["--kpi", "revenue", "--time", "week", "--date-format", "%Y"],
    ],
    "simulate": [["--geos", n] for n in NUMBERS[:3]] + [
        ["--weeks", "3"], ["--channels", "abc"], ["--lift-tests", "-1"], ["--seed", "1.5"],
        ["--out", p("afile.txt")], ["--out", p("used")], ["--no-collinear", "--strict-collinear"],
    ],
    "demo": [["--draws", n] for n in NUMBERS] + [
        ["--tune", "-1"], ["--chains", "0"], ["--seed", "x"], ["--out", p("afile.txt")],
        ["--out", p("used")], ["--bogus"],
    ],
    "fit": [["--draws", n] for n in NUMBERS] + [
        ["--data", p("missing.csv")], ["--data", p("text_kpi.csv")], ["--data", p("zero_kpi.csv")],
        ["--formula", "revenue ~ trend()"], ["--formula", "revenue ~ media(radio)"],
        ["--formula", "revenue ~ promo + media(promo)"], ["--formula", "no tilde"],
        ["--formula", "revenue ~ media(tv_spend, max_lag=x)"],
        ["--lift-tests", p("lifts_geo.csv")], ["--lift-tests", p("lifts_junk.csv")],
        ["--config", p("bad.toml")], ["--config", p("broken.toml")], ["--config", p("missing")],
        ["--out", p("afile.txt")], ["--out", p("used")], ["--method", "hmc"],
        ["--target-accept", "1.5"], ["--chains", "-2"], ["--population", "nope"],
        ["--date-format", "%d.%m.%Y"], ["--likelihood", "cauchy"], ["--time", "date"],
    ],
    "report": [["--out", p("used")], ["--out", p("afile.txt")], ["--bogus"]],
    "optimize": [
        ["--budget", "-5"], ["--budget", "abc"], ["--bounds", "1.2,0.8"], ["--bounds", "x"],
        ["--by", "region"], ["--out", p("used")], ["--out", p("afile.txt")],
    ],
    "fit-many": [["--workers", "0"], ["--workers", "x"], ["--out", p("afile.txt")],
                 ["--scheduler"]],
}
# Valid arguments that come first, so a bad value of the same option (later) is the one kept.
NOISE = {
    "validate": [["--time", "week"], ["--kpi", "revenue"], ["--geo", "geo"]],
    "simulate": [["--geos", "2"], ["--weeks", "10"], ["--out", p("fresh")]],
    "demo": [["--fast"], ["--seed", "2"], ["--out", p("fresh")]],
    "fit": [["--data", p("panel.csv")], ["--time", "week"], ["--formula", FORMULA],
            ["--method", "map"], ["--out", p("fresh")], ["--seed", "3"]],
    "report": [["--out", p("fresh/report.html")]],
    "optimize": [["--by", "geo"], ["--bounds", "0.8,1.2"]],
    "fit-many": [["--out", p("fresh")], ["--workers", "1"]],
}
# Options a command cannot run without (argparse: required).
REQUIRED = {"fit-many": ["--out", p("fresh")], "simulate": ["--out", p("fresh")]}


def case(command: str):
    positional = st.sampled_from(POSITIONAL.get(command, [(None, False)]))
    return positional.flatmap(lambda pos: st.tuples(
        st.just(command),
        st.just(pos[0]),
        st.lists(st.sampled_from(NOISE[command]), max_size=3),
        st.lists(st.sampled_from(BAD[command]), min_size=0 if pos[1] else 1, max_size=2),
    ))


def resolve(argv: list[str], root: Path) -> list[str]:
    return [str(root / a[1:]) if a.startswith("@") else a for a in argv]


@settings(max_examples=240, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from([*BAD, "fit", "fit", "validate"]).flatmap(case))
def test_bad_arguments_exit_1_or_2_with_one_error_line(files, drawn):
    command, positional, noise, bad = drawn
    argv = [command, *([] if positional is None else [positional]), *REQUIRED.get(command, [])]
    for fragment in [*noise, *bad]:
        argv += fragment
    code, _, err = run(*resolve(argv, files["root"]))
    assert code in (1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, (argv, err)
    event(f"{command}: exit {code}")
