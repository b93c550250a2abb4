"""The value -> variables map of the first look: a point of the model's unconstrained
space as every named variable (constrained parameters and deterministics).

MAP maps one point, so the map runs on PyTensor's Python linker: no rewrite, no
compile, a few milliseconds per point. An XLA compile of it cost ~3 s of CPU in the
cold first look, on the same two cores that were compiling the density. Laplace maps
thousands of draws, so there the map is compiled by XLA (batched with ``jax.vmap``)
on the background thread once the density's compile is done, while the mode search
and the Hessian run; the first call that needs it waits for it (:class:`Deferred`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np


def vars_graph(model) -> tuple:
    """(inputs, outputs) of the value -> variables map, and the variables' names."""
    from pymc.util import get_default_varnames

    wanted = list(get_default_varnames(model.unobserved_value_vars, include_transformed=False))
    return (model.value_vars, wanted), [v.name for v in wanted]


def python_map(model, split: Callable) -> tuple[Callable, list[str]] | None:
    """``(f, names)``: ``f(points)`` maps flat unconstrained points ``(N, size)`` (``split``
    cuts one into the value variables) point by point, on PyTensor's Python linker.
    None if the graph holds an op with an inner graph (``OpFromGraph``, ``Scan``: they
    compile it in the default mode, with C): the caller compiles the map with XLA."""
    import pytensor
    from pytensor.compile.mode import Mode
    from pytensor.graph.op import HasInnerGraph

    try:
        from pytensor.graph.traversal import applys_between
    except ImportError:  # PyTensor before 2.31
        from pytensor.graph.basic import applys_between

    (inputs, outputs), names = vars_graph(model)
    if any(isinstance(node.op, HasInnerGraph) for node in applys_between(inputs, outputs)):
        return None
    fn = pytensor.function(
        list(inputs), outputs, mode=Mode(linker="py", optimizer=None), on_unused_input="ignore"
    )

    def mapped(points: np.ndarray) -> list[np.ndarray]:
        rows = [fn(*split(x)) for x in points]
        # C order, as XLA returns them: a transposed deterministic came back as a view,
        # and the analysis' sums over it rounded differently after a save and load
        return [np.ascontiguousarray(np.stack([r[i] for r in rows])) for i in range(len(names))]

    return mapped, names


class Deferred:
    """A compiled function still being compiled: calling it waits for the compile."""

    def __init__(self, future: Future):
        self._future = future

    def __call__(self, *args):
        try:
            compiled = self._future.result()
        except Exception as e:  # the compile ran on another thread: say which one failed
            from geommm.errors import FitError

            raise FitError(f"compiling the value -> variables map failed: {e}") from e
        return compiled(*args)


@contextmanager
def background_compiles() -> Iterator[Callable[..., Future]]:
    """``submit(lowered)``: XLA compiles it on a background thread, one compile after
    another in the order submitted, with the first look's quicker compile options
    (``_jax_speed.compile_quickly``). XLA releases the GIL while it compiles, so the
    Python work goes on beside it; one compile at a time leaves that work a core of its
    own on two cores. The thread ends when its compiles do; if the block fails (or is
    interrupted), compiles not yet started are cancelled, so the process does not wait
    at exit for a map nobody will call."""
    from geommm._jax_speed import compile_quickly

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geommm-xla")
    done = False
    try:
        yield lambda lowered: pool.submit(compile_quickly, lowered)
        done = True
    finally:
        pool.shutdown(wait=False, cancel_futures=not done)
