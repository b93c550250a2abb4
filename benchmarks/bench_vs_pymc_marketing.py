"""geommm against PyMC-Marketing's geo MMM on the same panel, one after the other (not run by the tests).

    python benchmarks/bench_vs_pymc_marketing.py                      # 4 chains x 1000 tune + 1000 draws
    python benchmarks/bench_vs_pymc_marketing.py --chains 2 --tune 500 --draws 500 --data PANEL.csv
    python benchmarks/bench_vs_pymc_marketing.py --skip-peer          # geommm rows only

Both sides fit the conversions of a geo x week panel (default: shared/data/
meridian_geo_media.csv, 20 geos x 156 weeks) on 4 spend channels, the 2 controls and
yearly Fourier seasonality of order 2, with geometric adstock (8 weeks) and a
saturation curve per geo and channel, using nutpie with the same chains, tuning,
draws and seed. The default is 4 chains x 1000 draws: at 2 x 500 even independent
draws of ~400 parameters give a max R-hat above 1.01 one time in ten (median 1.009,
benchmarks/rhat_noise_floor.py), so "R-hat <= 1.01" cannot separate the samplers there.
Rows:

  geommm            geommm's defaults: Hill saturation, pooled per-geo parameters
  geommm-logistic   the same with media(..., saturation='logistic'), the peer's curve
  peer-default      PyMC-Marketing 0.19.2 multidimensional MMM, default priors
  peer-pooled       the same, per-geo media parameters pooled by channel hyperpriors

PyMC-Marketing is installed into its own virtual environment (.bench-venv-pmm/,
created on first use), so it never constrains geommm's dependencies. Every row runs
in a child process of its own, so peak RSS and CPU seconds are the operating system's
figures for that fit alone. On 2 cores run nothing else meanwhile: the load average
before and after is printed with the table, which is also written to
benchmarks/results/vs_pymc_marketing.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "meridian_geo_media.csv"
DEFAULT_VENV = REPO / ".bench-venv-pmm"
DEFAULT_OUT = HERE / "results" / "vs_pymc_marketing.md"
PEER_SCRIPT = HERE / "_peer_pymc_marketing.py"
PEER_PINS = ("pymc-marketing==0.19.2", "pymc==5.28.5", "nutpie==0.16.8")

CHANNELS = ("Channel0_spend", "Channel1_spend", "Channel2_spend", "Channel3_spend")
CONTROLS = ("competitor_activity_score_control", "sentiment_score_control")


def geommm_formula(saturation: str | None) -> str:
    curve = f", saturation='{saturation}'" if saturation else ""
    media = " + ".join(f"media({col}, name='ch{i}'{curve})" for i, col in enumerate(CHANNELS))
    return f"conversions ~ {' + '.join(CONTROLS)} + fourier(52, 2) + trend() + (1 | geo) + {media}"


# ---------------------------------------------------------------- child: geommm
def run_geommm_child(a: argparse.Namespace) -> None:
    """Fit geommm once in this (child) process and write the result as JSON."""
    import warnings

    t_start = time.perf_counter()
    import geommm as gm

    import_seconds = time.perf_counter() - t_start
    panel = gm.read_panel(a.data, geo="geo", time="time")
    model = gm.GeoMMM(geommm_formula(a.saturation), data=panel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(
            draws=a.draws,
            tune=a.tune,
            chains=a.chains,
            sampler="nutpie",
            seed=a.seed,
            progressbar=False,
        )
    fit_seconds = time.perf_counter() - t_start  # imports included, as on the peer side
    d = fit.diagnostics()
    s = fit.settings
    stats = fit.idata.sample_stats
    result = {
        "side": "geommm" + (f"-{a.saturation}" if a.saturation else ""),
        "versions": {"geommm": getattr(gm, "__version__", "?"), **_versions("pymc", "nutpie")},
        "import_seconds": import_seconds,
        "compile_seconds": s.compile_seconds,
        "sampling_seconds": s.sampling_seconds,
        "fit_seconds": fit_seconds,
        "divergences": int(d.divergences),
        "max_r_hat": float(d.max_r_hat),
        "min_ess_bulk": float(d.min_ess_bulk),
        "mean_steps_per_draw": float(stats["n_steps"].values.mean())
        if "n_steps" in stats
        else None,
        "target_accept": s.target_accept,
        "verdict": d.verdict,
        "unconstrained_dims": int(sum(v.size for v in model.model.initial_point().values())),
    }
    Path(a.result).write_text(json.dumps(result))


def _versions(*names: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "?"
    return out


# ---------------------------------------------------------------- parent
def ensure_peer_venv(venv: Path) -> Path:
    """Create the peer's virtual environment on first use; return its interpreter."""
    py = venv / "bin" / "python"
    probe = "import pymc_marketing, sys; sys.exit(pymc_marketing.__version__ != '0.19.2')"
    if (
        py.exists()
        and subprocess.run([str(py), "-c", probe], check=False, capture_output=True).returncode == 0
    ):
        return py
    print(f"creating {venv} with {' '.join(PEER_PINS)} (once; not timed)", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *PEER_PINS], check=True)
    print(f"  installed in {time.perf_counter() - t0:.0f} s", flush=True)
    return py


def run_child(label: str, cmd: list[str], result_path: Path, log_path: Path) -> dict:
    """Run one fit in a child process; add its peak RSS, CPU seconds and wall time."""
    print(f"-- {label}: running (log {log_path})", flush=True)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text().splitlines()[-15:]
        print(
            f"   FAILED (exit {proc.returncode}); last lines of the log:",
            *tail,
            sep="\n   ",
            flush=True,
        )
        return {"side": label, "failed": f"exit {proc.returncode}: " + (tail[-1] if tail else "")}
    r = json.loads(result_path.read_text())
    r["side"] = label
    r["process_wall_seconds"] = wall
    r["peak_rss_gb"] = usage.ru_maxrss / 1024**2  # Linux reports kilobytes
    r["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    r["load_before"], r["load_after"] = load0, os.getloadavg()[0]
    print(
        f"   done in {wall:.0f} s: compile {r['compile_seconds']:.1f} s, sampling "
        f"{r['sampling_seconds']:.1f} s, {r['divergences']} divergences",
        flush=True,
    )
    return r


COLUMNS = (
    ("model", "{side}"),
    ("compile s", "{compile_seconds:.1f}"),
    ("sampling s", "{sampling_seconds:.1f}"),
    ("total wall s", "{fit_seconds:.1f}"),
    ("divergences", "{divergences:d}"),
    ("max R-hat", "{max_r_hat:.3f}"),
    ("min bulk ESS", "{min_ess_bulk:.0f}"),
    ("ESS/s", "{ess_per_second:.2f}"),
    ("peak RSS GB", "{peak_rss_gb:.2f}"),
    ("CPU s", "{cpu_seconds:.0f}"),
    ("leapfrog/draw", "{mean_steps_per_draw:.1f}"),
)


def table(rows: list[dict]) -> list[str]:
    cells = [[name for name, _ in COLUMNS]]
    for r in rows:
        if "failed" in r:
            cells.append([r["side"], "failed: " + r["failed"][:60]] + [""] * (len(COLUMNS) - 2))
            continue
        r = {
            **r,
            "ess_per_second": r["min_ess_bulk"] / r["fit_seconds"],
            "mean_steps_per_draw": r.get("mean_steps_per_draw") or float("nan"),
        }
        cells.append([fmt.format(**r) for _, fmt in COLUMNS])
    return _markdown(cells)


def ratios(rows: list[dict]) -> list[str]:
    ok = [r for r in rows if "failed" not in r]
    ours = [r for r in ok if r["side"].startswith("geommm")]
    peers = [r for r in ok if r["side"].startswith("peer")]
    cells = [["geommm / peer", "total wall ratio", "ESS/s ratio"]]
    for g in ours:
        for p in peers:
            eps_g, eps_p = (
                g["min_ess_bulk"] / g["fit_seconds"],
                p["min_ess_bulk"] / p["fit_seconds"],
            )
            cells.append(
                [
                    f"{g['side']} / {p['side']}",
                    f"{g['fit_seconds'] / p['fit_seconds']:.2f}",
                    f"{eps_g / eps_p:.2f}" if eps_p > 0 else "n/a",
                ]
            )
    return _markdown(cells) if len(cells) > 1 else []


def _markdown(cells: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    return [
        line(cells[0]),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *map(line, cells[1:]),
    ]


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="panel CSV (default: %(default)s)")
    p.add_argument("--skip-peer", action="store_true", help="geommm rows only")
    p.add_argument("--skip-logistic", action="store_true", help="no geommm-logistic row")
    p.add_argument("--skip-pooled", action="store_true", help="no peer-pooled row")
    p.add_argument(
        "--venv", default=str(DEFAULT_VENV), help="peer virtual environment (default: %(default)s)"
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), help="markdown result (default: %(default)s)")
    p.add_argument("--child", choices=("geommm",), help=argparse.SUPPRESS)
    p.add_argument("--saturation", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        run_geommm_child(a)
        return
    data = Path(a.data).resolve()
    if not data.exists():
        sys.exit(f"panel not found: {data} (pass --data PATH)")

    runs: list[tuple[str, list[str] | None]] = []
    common = [
        "--chains",
        str(a.chains),
        "--tune",
        str(a.tune),
        "--draws",
        str(a.draws),
        "--seed",
        str(a.seed),
        "--data",
        str(data),
    ]
    me = [sys.executable, str(Path(__file__).resolve()), "--child", "geommm", *common]
    runs.append(("geommm", me))
    if not a.skip_logistic:
        runs.append(("geommm-logistic", [*me, "--saturation", "logistic"]))
    peer_py = None
    if not a.skip_peer:
        peer_py = ensure_peer_venv(Path(a.venv))
        peer = [str(peer_py), str(PEER_SCRIPT), *common]
        runs.append(("peer-default", [*peer, "--variant", "default"]))
        if not a.skip_pooled:
            runs.append(("peer-pooled", [*peer, "--variant", "pooled"]))

    load_before = os.getloadavg()
    started = dt.datetime.now().astimezone()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-vs-pmm-") as tmp:
        for label, cmd in runs:
            result = Path(tmp) / f"{label}.json"
            log = Path(tmp) / f"{label}.log"
            rows.append(
                run_child(
                    label,
                    [*cmd, "--result" if label.startswith("geommm") else "--out", str(result)],
                    result,
                    log,
                )
            )
            if "failed" in rows[-1]:
                keep = HERE / "results" / f"{label}.log"
                keep.parent.mkdir(parents=True, exist_ok=True)
                keep.write_text(log.read_text())
                print(f"   log kept at {keep}", flush=True)
    load_after = os.getloadavg()

    versions: dict[str, set[str]] = {}
    for r in rows:
        for k, v in r.get("versions", {}).items():
            versions.setdefault(k, set()).add(v)
    lines = [
        "# geommm vs PyMC-Marketing: same panel, same sampler settings",
        "",
        (
            f"- run: {started:%Y-%m-%d %H:%M %Z}, {platform.platform()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        ),
        f"- panel: {data.name}; nutpie, {a.chains} chains x {a.tune} tune + {a.draws} draws, seed {a.seed}",
        (
            f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}; "
            f"after: {' '.join(f'{x:.2f}' for x in load_after)}"
        ),
        "- versions: " + "; ".join(f"{k} {'/'.join(sorted(v))}" for k, v in versions.items()),
        "",
        *table(rows),
        "",
        *ratios(rows),
        "",
        (
            "Columns: compile s = nutpie's compile_pymc_model (PyTensor graph -> numba); sampling s = "
            "nutpie.sample; total wall s = import the library, read the CSV, build the "
            "model, compile and sample (the diagnostics after the fit excluded); ESS/s = min bulk ESS / total wall s; max "
            "R-hat and min bulk ESS over every stored parameter (the peer's per-date deterministics "
            "excluded); peak RSS and CPU s are the child process's own (getrusage via wait4); "
            "leapfrog/draw = mean of nutpie's n_steps over the kept draws."
        ),
        "",
        (
            "Model differences that remain: geommm adds trend(), shares the control coefficients "
            "across geos and partially pools its per-geo intercept, seasonality, retention, "
            "half-saturation and effect; the peer fits per-geo intercept, control and seasonality "
            "coefficients unpooled, and peer-default also each geo x channel media parameter; "
            "geommm samples with target_accept 0.9 (its default), the peer with PyMC's 0.8."
        ),
    ]
    lines += ["", "Details per run:", "", *details(rows)]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    write_atomically(Path(a.out), text)
    print(f"written to {a.out}")


def details(rows: list[dict]) -> list[str]:
    cells = [
        [
            "model",
            "unconstrained dims",
            "target_accept",
            "imports s",
            "process wall s",
            "load before",
            "load after",
        ]
    ]
    for r in rows:
        if "failed" in r:
            continue
        cells.append(
            [
                r["side"],
                str(r.get("unconstrained_dims", "?")),
                str(r.get("target_accept", "?")),
                f"{r['import_seconds']:.1f}",
                f"{r['process_wall_seconds']:.1f}",
                f"{r['load_before']:.2f}",
                f"{r['load_after']:.2f}",
            ]
        )
    return _markdown(cells)


if __name__ == "__main__":
    main()
