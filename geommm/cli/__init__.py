"""Command-line interface: ``geommm demo | fit | validate | simulate | report | optimize``.

Exit codes: 0 success, 1 a problem with the input or the environment (one
``error: ...`` line on stderr, no traceback), 2 a usage error (argparse),
130 interrupted by Ctrl-C (SIGINT; no partial fit is saved).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence

from geommm.cli.console import (
    UserError,
    one_line,
    one_line_warnings,
    show_progress,
    watch_interrupts,
)
from geommm.cli.parser import build_parser

__all__ = ["main"]

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, the shell convention).
INTERRUPTED = 130


def _commands() -> dict[str, Callable]:
    from geommm.cli import commands
    from geommm.cli.batch import fit_many
    from geommm.cli.demo import demo
    from geommm.cli.refresh import refresh
    from geommm.cli.design import design_test

    return {
        "validate": commands.validate,
        "simulate": commands.simulate,
        "demo": demo,
        "fit": commands.fit,
        "report": commands.report,
        "optimize": commands.optimize,
        "fit-many": fit_many,
        "refresh": refresh,
        "design-test": design_test,
    }


def _quiet() -> None:
    """Hide a start-up notice analysts cannot act on (PyTensor's missing-BLAS advice)."""
    warnings.filterwarnings("ignore", message=r"(?s).*PyTensor could not link to a BLAS")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geommm`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    _quiet()
    from geommm.errors import FitInterrupted, GeoMMMError

    show_progress()
    try:
        with watch_interrupts(), one_line_warnings():
            return _commands()[args.command](args)
    except FitInterrupted as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return INTERRUPTED
    except (GeoMMMError, UserError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # permissions, full disk, a folder where a file should be
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or one_line(exc)}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C); every file written so far is complete "
              "(writes are atomic), the rest were not written", file=sys.stderr)
        return INTERRUPTED
