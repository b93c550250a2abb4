"""PyTensor graphs as JAX functions, with chosen constants turned into arguments.

PyMC builds a model's data (the KPI, its scale, data-driven priors and centring
weights) into its graph as constants. Models built by the same code on data of
the same shape have the same graph up to those constants' values, so one XLA
compile can serve them all when the constants that differ become arguments
(:func:`lift_plan`): pre-flight refits several simulated markets this way and
pays for the compile once. Constants that are equal everywhere stay constants,
so PyTensor still folds them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

#: PyTensor rewrites skipped: a sparse-matrix rewrite that reads the C compiler's BLAS
#: flags (and warns about BLAS) although JAX never uses them; elementwise fusion, whose
#: scalar composites reach JAX as ``jnp.vectorize`` for XLA to fuse again; in-place
#: updates, which JAX does not have. Without the last two the demo density's rewrite,
#: tracing and XLA compile took 3.2-4.3 s instead of 3.6-5.6 s (five alternated pairs,
#: the same value and gradient to every digit; docs/performance.md, "A first look").
SKIPPED_REWRITES = ("local_usmm", "fusion", "inplace")

#: Where a constant sits: (node's index in the graph's topological order, input index).
Position = tuple[int, int]


def _fgraph(inputs: Sequence, outputs: Sequence):
    """A private copy of the graph, shared variables frozen to constants (as PyMC's
    ``get_jaxified_graph`` does)."""
    import pytensor.tensor as pt
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph import FunctionGraph, clone_replace
    try:
        from pytensor.graph.traversal import graph_inputs
    except ImportError:  # PyTensor before 2.31
        from pytensor.graph.basic import graph_inputs

    shared = [v for v in graph_inputs(outputs) if isinstance(v, SharedVariable)]
    graph = clone_replace(list(outputs), replace={v: pt.constant(v.get_value()) for v in shared})
    return FunctionGraph(inputs=list(inputs), outputs=graph, clone=True)


def _skeleton(fgraph) -> tuple[list, list[tuple[Position, np.ndarray]]]:
    """The graph's structure with constants reduced to their types, and the constants."""
    from pytensor.graph.basic import Constant

    index = {v: ("in", k) for k, v in enumerate(fgraph.inputs)}
    shape, constants = [], []
    for i, node in enumerate(fgraph.toposort()):
        refs = []
        for j, v in enumerate(node.inputs):
            if isinstance(v, Constant):
                refs.append(("const", v.type))
                constants.append(((i, j), np.asarray(v.data)))
            else:
                refs.append(index[v])
        shape.append((node.op, tuple(refs)))
        index.update({out: ("node", i, k) for k, out in enumerate(node.outputs)})
    shape.append(tuple(index[o] for o in fgraph.outputs))
    return shape, constants


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _equal(a: list, b: list) -> bool:
    try:
        return len(a) == len(b) and a == b
    except Exception:  # noqa: BLE001 - an op that cannot be compared: not the same graph
        return False


def alike(graphs: Sequence[Sequence[tuple[Sequence, Sequence]]]) -> list[list[int]]:
    """Indices of ``graphs`` (each a list of ``(inputs, outputs)``, one per function)
    grouped by structure: within a group only constant values differ. PyMC folds some
    constants while building (a weight of exactly 0 or 1), so models of one formula can
    fall into a few groups."""
    shapes = [[_skeleton(_fgraph(i, o))[0] for i, o in g] for g in graphs]
    groups: list[list[int]] = []
    for k, shape in enumerate(shapes):
        for group in groups:
            if all(_equal(a, b) for a, b in zip(shapes[group[0]], shape)):
                group.append(k)
                break
        else:
            groups.append([k])
    return groups


def lift_plan(graphs: Sequence[tuple[Sequence, Sequence]]) -> tuple[list[Position], list[list[np.ndarray]]] | None:
    """For graphs ``(inputs, outputs)`` built by the same code on different data: the
    positions of the constants whose values differ, and each graph's values there.
    None when the graphs differ in more than constant values (compile them apart)."""
    skeletons = [_skeleton(_fgraph(i, o)) for i, o in graphs]
    first, first_constants = skeletons[0]
    if not all(_equal(shape, first) for shape, _ in skeletons[1:]):
        return None
    positions = [
        pos for k, (pos, value) in enumerate(first_constants)
        if not all(_same(value, other[k][1]) for _, other in skeletons[1:])
    ]
    wanted = set(positions)
    values = [[v for pos, v in constants if pos in wanted] for _, constants in skeletons]
    return positions, values


def jaxify(inputs: Sequence, outputs: Sequence, lifted: Sequence[Position] = ()) -> Callable:
    """A PyTensor graph as a JAX function, rewritten as PyMC's ``get_jaxified_graph``
    does minus :data:`SKIPPED_REWRITES`. The constants at
    ``lifted`` (see :func:`lift_plan`) become extra arguments after ``inputs``."""
    from pytensor.compile.mode import get_mode
    from pytensor.link.jax.dispatch import jax_funcify

    fgraph = _fgraph(inputs, outputs)
    if lifted:
        nodes = fgraph.toposort()
        for i, j in lifted:
            node = nodes[i]
            arg = node.inputs[j].type()
            fgraph.add_input(arg)
            fgraph.change_node_input(node, j, arg, reason="lift data to an argument")
    get_mode("JAX").excluding(*SKIPPED_REWRITES).optimizer.rewrite(fgraph)
    with warnings.catch_warnings():
        # PyTensor says it drops runtime checks (e.g. sigma > 0) that JAX cannot trace;
        # the transforms keep every value in its support, so nothing is lost here
        warnings.filterwarnings("ignore", message=r"Skipping .* as JAX tracing would remove it")
        return jax_funcify(fgraph)
