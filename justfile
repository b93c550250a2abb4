# geommm developer recipes. `just` itself comes with `just setup` (rust-just in the dev extra);
# before that, run the commands in README.md's Quickstart by hand.

set shell := ["bash", "-euo", "pipefail", "-c"]

venv := ".venv"

# list the recipes
default:
    @just --list

# create .venv and install geommm in editable mode with the dev tools
setup:
    python3 -m venv {{venv}}
    {{venv}}/bin/python -m pip install --upgrade pip
    {{venv}}/bin/python -m pip install -e ".[dev]"

# fit the bundled demo and compare with the truth (extra flags pass through, e.g. `just demo --fast`)
demo *ARGS:
    {{venv}}/bin/geommm demo {{ARGS}}

# the full test suite: exactly the command in README.md and .ci/run
test:
    .venv/bin/python -m pytest -q

# quick tests: no NUTS recovery runs, no headless browser
test-fast:
    .venv/bin/python -m pytest -q -m "not slow and not browser"

# static checks
lint:
    {{venv}}/bin/ruff check .

# run every benchmark script, one at a time (2 cores: never in parallel)
bench:
    for script in benchmarks/*.py; do echo "== $script"; {{venv}}/bin/python "$script"; done

# (re)write the HTML report of a saved fit folder
report DIR="geommm-demo-output":
    {{venv}}/bin/geommm report {{DIR}}
