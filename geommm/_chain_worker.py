"""One NUTS worker process: samples its chains on one CPU and sends nutpie's draws back.

Run by :mod:`geommm.chain_processes` as ``python -P <this file> CPU`` (a file, not
``-m``: importing the ``geommm`` package would import PyMC, ~5 s this process does not
need). It pins itself to CPU *before* JAX starts (so XLA sizes its thread pool for one
CPU), imports JAX and nutpie while the parent still compiles, then reads one pickled
job on stdin, loads the density the parent exported with ``jax.export`` and samples
each of its chains one after the other with nutpie. Every message to the parent is a
pickled tuple on the original stdout: ``("progress", chain, tune, draws, divergent)``,
``("chain", chain, idata)``, ``("error", text)``. Anything a library prints goes to
stderr. It ignores Ctrl-C (the parent stops it), and once it has its job it exits when
stdin reaches its end (the parent died).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
import time
import traceback

POLL_SECONDS = 0.5


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints must not corrupt the message stream
    lock = threading.Lock()

    def send(message: tuple) -> None:
        with lock:
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    try:
        if len(sys.argv) > 1 and sys.argv[1] != "-":
            os.sched_setaffinity(0, {int(sys.argv[1])})
        # no cycle collection while importing and loading, as geommm/_gc_pause.py does
        # (restated: this file does not import geommm); _sample turns it back on
        if os.environ.get("GEOMMM_GC_PAUSE", "").strip() != "0":
            gc.disable()
        t0 = time.perf_counter()
        import jax
        import nutpie  # noqa: F401 - imported now, while the parent compiles

        _debug(f"imported in {time.perf_counter() - t0:.1f} s")

        jax.config.update("jax_enable_x64", True)
        _run_on_the_calling_thread(jax)
        job = pickle.load(sys.stdin.buffer)
        threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
        for index, trace in _sample(job, send):
            send(("chain", index, trace))
    except BaseException:  # noqa: BLE001 - everything goes back to the parent as text
        send(("error", traceback.format_exc()))
        out.close()
        os._exit(1)
    out.close()


def _run_on_the_calling_thread(jax) -> None:
    """XLA runs each density call on the thread that asks for it, not handed to a
    dispatch thread. Why: the chain blocks on every result at once anyway, and on the one
    CPU this worker owns the hand-over costs a thread switch each way: ~11% of a call on
    the 8-geo design panel (0.28-0.29 -> 0.24-0.25 ms in the worker; docs/performance.md).
    JAX reads this when it creates its CPU backend, so it is set before any JAX call."""
    with contextlib.suppress(Exception):  # a JAX without the option: its default is fine
        jax.config.update("jax_cpu_enable_async_dispatch", False)


def _debug(text: str) -> None:
    if os.environ.get("GEOMMM_CHAIN_DEBUG"):
        print(f"[worker {os.getpid()} {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _exit_when_parent_goes() -> None:
    """stdin stays open while the parent wants this worker; EOF means stop now."""
    while sys.stdin.buffer.read(1):
        pass
    os._exit(0)


def _sample(job: dict, send):
    import jax
    import numpy as np

    if job.get("cache_dir"):
        jax.config.update("jax_compilation_cache_dir", job["cache_dir"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", job["cache_min_seconds"])
        jax.config.update("jax_compilation_cache_max_size", job["cache_bytes"])
    import nutpie
    from nutpie.compiled_pyfunc import from_pyfunc

    t0 = time.perf_counter()
    affine = job.get("affine")  # a warm start: nutpie samples z, the programs take mean + scale * z
    make_logp_fn = _loader(job["logp"], job["logp_dtype"], np, affine)
    make_expand_fn = _expander(job, np, affine)
    _debug(f"density loaded in {time.perf_counter() - t0:.1f} s")
    gc.enable()  # paused in main() while importing and loading; never while sampling
    for index, seed in zip(job["chains"], job["seeds"]):
        model = from_pyfunc(
            ndim=job["n_dim"],
            make_logp_fn=make_logp_fn,
            make_expand_fn=make_expand_fn,
            make_initial_point_fn=_initial_points(job["initial_points"][index], np),
            expanded_dtypes=[np.dtype("float64")] * len(job["names"]),
            expanded_shapes=job["shapes"],
            expanded_names=job["names"],
            dims={k: list(v) for k, v in job["dims"].items()},  # nutpie adds to it
            coords=job["coords"],
        )
        t0 = time.perf_counter()
        sampler = nutpie.sample(model, chains=1, cores=1, seed=seed, blocking=False,
                                progress_bar=False, **job["kwargs"])
        every, last, done = job.get("progress_seconds", 0.0), time.monotonic(), None
        while not finished(sampler):
            time.sleep(POLL_SECONDS)
            if every and time.monotonic() - last >= every:  # a read copies the trace so far
                last, now = time.monotonic(), counts(sampler)
                if now is not None and now != done:
                    send(("progress", index, *now))
                    done = now
        trace = sampler.wait()
        if os.environ.get("GEOMMM_CHAIN_DEBUG"):
            n, spent = make_logp_fn.stats
            _debug(f"chain {index} sampled in {time.perf_counter() - t0:.1f} s; {n} density calls so far "
                   f"in this worker, {1000 * spent / max(n, 1):.2f} ms each")
        diverging = trace.sample_stats["diverging"].values
        send(("progress", index, job["kwargs"]["tune"], int(diverging.size), int(diverging.sum())))
        yield index, trace


def _compiled(exported_bytes: bytes, args: list):
    """An exported function compiled ahead of time for ``args`` (cached by JAX if asked)."""
    import jax
    from jax import export

    exported = export.deserialize(bytearray(exported_bytes))
    return jax.jit(exported.call).lower(*args).compile()


def _loader(job_logp: dict, dtype: str, np, affine=None):
    dtype, f64 = np.dtype(dtype), np.dtype("float64")  # dtype objects: no name parsing per call
    shared = [np.asarray(a) for a in job_logp["shared"]]
    executable = _compiled(job_logp["function"], [np.zeros(job_logp["n_dim"], dtype), *shared])

    stats = [0, 0.0]

    def make_logp_fn():
        # the program returns [value, *gradient]: one read, then numpy (this is
        # _jax_speed.value_and_gradient, restated: the worker does not import geommm)
        def logp(x, **_):
            out = np.asarray(executable(np.asarray(x, dtype=dtype), *shared), dtype=f64)
            return float(out[0]), out[1:]

        if affine is not None:  # geommm/warm_start.py: logp(z) = logp_x(mean + scale z)
            mean, scale = affine
            logp_x = logp

            def logp(z, **_):
                value, grad = logp_x(mean + scale * z)
                return value, grad * scale

        if not os.environ.get("GEOMMM_CHAIN_DEBUG"):
            return logp

        def timed(x, **_):  # GEOMMM_CHAIN_DEBUG only: keeps the hot path bare otherwise
            t0 = time.perf_counter()
            out = logp(x)
            stats[0] += 1
            stats[1] += time.perf_counter() - t0
            return out
        return timed

    make_logp_fn.stats = stats

    return make_logp_fn


def _expander(job: dict, np, affine=None):
    shared = [np.asarray(a) for a in job["expand"]["shared"]]
    executable = _compiled(job["expand"]["function"], [np.zeros(job["n_dim"]), *shared])
    names, shapes = job["names"], [tuple(s) for s in job["shapes"]]
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
    f64 = np.dtype("float64")

    def make_expand_fn(seed1, seed2, chain):
        def expand(x, **_):  # the program returns every variable in one vector: split here
            if affine is not None:
                x = affine[0] + affine[1] * x
            values = np.split(np.asarray(executable(x, *shared), dtype=f64), ends)
            return {name: v.reshape(shape) for name, v, shape in zip(names, values, shapes, strict=True)}
        return expand

    return make_expand_fn


def _initial_points(points: list, np):
    """The parent drew this chain's starting points (PyMC's jittered support point);
    nutpie asks again only if a start has no finite density, so each ask takes the next."""
    queue = list(points)

    def make_initial_point(seed):
        return np.asarray(queue.pop(0) if len(queue) > 1 else queue[0], dtype="float64")

    return make_initial_point


def finished(sampler) -> bool:  # sampler: nutpie's background sampler
    try:
        return bool(sampler.is_finished)
    except TimeoutError:  # nutpie 0.16 reports "still running" this way
        return False


def counts(sampler) -> tuple[int, int, int] | None:
    """(warm-up iterations, draws, divergent draws) done so far over all chains, from a
    copy of nutpie's running trace; None if this nutpie cannot be asked."""
    try:
        import numpy as np

        _, stats = sampler._sampler.inspect().get_arrow_trace()
        tune = draws = divergent = 0
        for chain in stats:
            tuning = np.asarray(chain.column("tuning").to_numpy(), dtype=bool)
            diverging = np.asarray(chain.column("diverging").to_numpy(), dtype=bool)
            tune += int(tuning.sum())
            draws += int((~tuning).sum())
            divergent += int((diverging & ~tuning).sum())
        return tune, draws, divergent
    except Exception:  # noqa: BLE001 - progress must never stop a fit
        return None


if __name__ == "__main__":
    main()
