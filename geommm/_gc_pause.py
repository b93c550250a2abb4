"""Python's cycle collector paused while a model's graphs are built and compiled.

Why: importing PyMC, building a model, PyTensor's rewrites and JAX's tracing allocate
hundreds of thousands of small objects that all live on. Every burst of allocations
starts the cycle collector, whose older-generation passes walk every object alive to
find almost no garbage. Measured in docs/performance.md ("Compiling with the cycle
collector paused", ``benchmarks/bench_gc_pause.py``).

Only imports, builds and compiles are covered, never a sampler's or optimiser's loop: a
pause there could let garbage pile up for the length of a fit. The collector runs again
when the step ends and collects what the compile left behind. The pause is
process-wide: a fit compiling on one thread pauses collection for the other threads
too, for that long. ``GEOMMM_GC_PAUSE=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cycle collector for the ``with`` block, then restore it.

    A collector that is already off (the caller's choice, or an outer pause) is left
    off: only the pause that turned it off turns it back on."""
    if not gc.isenabled() or os.environ.get("GEOMMM_GC_PAUSE", "").strip() == "0":
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
