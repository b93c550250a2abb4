"""Python's cycle collector paused while a model's graphs are built and compiled.

Why: building a PyMC model, PyTensor's rewrites and JAX's tracing allocate hundreds of
thousands of small graph objects that all live until the compile ends. Every burst of
allocations starts the cycle collector, and its older-generation passes walk every
object alive (PyMC, JAX and the graph so far) to find almost no garbage. On the 8-geo
design panel nutpie's conversion of the model took 3.4-4.3 s with the collector and
2.7-3.0 s without it, one CPU, alternated runs; ~35 MB more peak memory
(docs/performance.md, "Compiling with the cycle collector paused").

Only the build and compile steps are covered, never a sampler's or optimiser's loop: a
pause there could let garbage pile up for the length of a fit. The collector runs again
as soon as the step ends and collects what the compile left behind.
``GEOMMM_GC_PAUSE=0`` turns the pause off (to compare: ``benchmarks/bench_gc_pause.py``).
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
