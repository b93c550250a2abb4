"""NUTS chains in worker processes, one CPU each, on the density compiled here.

Why (docs/performance.md, "Chains in processes"): nutpie runs its chains as threads
of one process that call the JAX density through Python. On the demo panel two chains
side by side spent 1.37 ms in a density call against 0.43 ms in a process pinned to one
CPU, so the second core gave ~1.2x, not 2x. Here the parent exports the density (and
gradient) and the draw expansion it compiled anyway (``jax.export``: XLA's portable
program, so a worker needs neither PyMC nor PyTensor), starts one worker per CPU
(:mod:`geommm._chain_worker`), hands each its chains and merges the draws in chain
order. A chain's draws depend on the seed and its index only, not on how many CPUs ran
them. Anything unexpected while exporting falls back to nutpie's threads.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import xarray as xr

from geommm._gc_pause import paused_gc
from geommm.errors import FitError

log = logging.getLogger("geommm")

#: geos x weeks x channels x chains x (warm-up + draws) from which "auto" starts worker
#: processes: each costs ~4-8 s of CPU to start (JAX and nutpie imports), paid back on
#: the demo panel (10 x 104 x 4 cells, 4 x 1500 iterations = 25 M) many times over.
AUTO_WORK = 4_000_000
#: Starting points drawn per chain (nutpie asks again only when one has no finite density).
STARTS_PER_CHAIN = 4
POLL_SECONDS = 0.2
#: How often a worker reads its chain's progress when the parent prints progress lines
#: (reading copies nutpie's trace so far; the parent prints at most every 10 s).
PROGRESS_SECONDS = 5.0
_WORKER = Path(__file__).with_name("_chain_worker.py")


def wanted(s, cells: int | None) -> bool:
    """Whether ``s`` (resolved settings) samples its chains in worker processes.

    ``s.chain_processes``: True or False decides; None ("auto") uses them for nutpie on
    JAX's CPU backend with two or more chains and CPUs, when the fit is big enough to
    pay for the workers' start (``AUTO_WORK``). ``GEOMMM_CHAIN_PROCESSES=0`` turns them
    off (``1`` on) for every fit left on auto."""
    if (s.method, s.sampler, s.backend) != ("nuts", "nutpie", "jax") or s.chains < 2:
        return False
    if len(cpus(s)) < 2:
        return False
    if s.chain_processes is not None:
        return bool(s.chain_processes)
    env = os.environ.get("GEOMMM_CHAIN_PROCESSES", "").strip()
    if env in ("0", "1"):
        return env == "1"
    return cells is not None and cells * s.chains * (s.tune + s.draws) >= AUTO_WORK


def cpus(s) -> list[int]:
    """The CPUs the workers are pinned to: this process's own, at most one per chain and
    at most ``s.cores``, starting at an offset set by the process id (two fits on a
    machine with more CPUs than workers do not both take the first ones)."""
    try:
        mine = sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: no pinning, so no processes
        return []
    n = min(s.chains, s.cores or len(mine), len(mine))
    first = os.getpid() % len(mine)
    return [mine[(first + i) % len(mine)] for i in range(n)]


def start(s) -> Workers | None:
    """Worker processes for ``s`` if it wants them (see :func:`wanted`), else None; a
    machine that cannot start them gets None and a warning, and the fit uses threads."""
    if not wanted(s, None):
        if s.chain_processes is True and (s.method, s.sampler, s.backend) == ("nuts", "nutpie", "jax"):
            log.warning("chain_processes=True needs two or more chains and CPUs (and Linux's CPU "
                        "affinity); the chains run as threads")
        return None
    if getattr(sys, "frozen", False) or not sys.executable:
        log.warning("chains run as threads: this interpreter cannot start Python worker processes")
        return None
    try:
        return Workers(cpus(s))
    except OSError as exc:
        log.warning("chains run as threads: worker processes could not start (%s)", exc)
        return None


class Workers:
    """Worker processes started before the parent compiles, so their imports overlap."""

    def __init__(self, cpu_list: list[int]):
        from geommm import _jax_speed

        # JAX on the CPU only (a GPU build would have each worker claim the GPU's memory);
        # -P: the worker's folder (geommm/) must not shadow top-level modules
        env = _jax_speed.worker_xla_flags(dict(os.environ, PYTHONWARNINGS="ignore", JAX_PLATFORMS="cpu"))
        self.logs, self.procs = [], []
        try:
            for cpu in cpu_list:
                self.logs.append(tempfile.TemporaryFile())  # noqa: SIM115 - closed by stop()
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-P", str(_WORKER), str(cpu)], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=self.logs[-1], env=env))
        except BaseException:
            self.stop()
            raise
        self.messages: queue.Queue = queue.Queue()
        for i, proc in enumerate(self.procs):
            threading.Thread(target=self._read, args=(i, proc), daemon=True).start()

    def _read(self, i: int, proc) -> None:
        try:
            while True:
                self.messages.put((i, pickle.load(proc.stdout)))
        except EOFError:
            self.messages.put((i, ("exit",)))
        except Exception as exc:  # noqa: BLE001 - reported to the parent's loop
            self.messages.put((i, ("error", f"unreadable message from the worker: {exc!r}")))

    def stderr_tail(self, i: int, chars: int = 2000) -> str:
        """The end of worker ``i``'s stderr (read without moving the file's position, which
        the running worker shares)."""
        fd = self.logs[i].fileno()
        size = os.fstat(fd).st_size
        return os.pread(fd, chars, max(0, size - chars)).decode(errors="replace")

    def error_of(self, i: int, wait: float = 2.0) -> str:
        """What worker ``i`` said before it stopped: its error message if it sent one
        within ``wait`` seconds, else its exit code and the end of its stderr."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                j, message = self.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            if j == i and message[0] == "error":
                return message[1]
        code = self.procs[i].poll()
        return f"exit code {code}" + (" (killed)" if code is not None and code < 0 else "") + \
            f"; its stderr ends:\n{self.stderr_tail(i)}"

    def stop(self) -> None:
        if os.environ.get("GEOMMM_CHAIN_DEBUG"):
            for i in range(len(self.procs)):
                print(self.stderr_tail(i), file=sys.stderr)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        for log in self.logs:
            log.close()


def job(compiled, s, extra: dict) -> dict:
    """What every worker needs: the exported density and expansion, names, shapes,
    coords, nutpie's settings. Raises if this nutpie's internals are not as tested."""
    import jax
    from jax import export

    from geommm import _jax_speed

    if jax.default_backend() != "cpu":
        raise RuntimeError(f"JAX runs on {jax.default_backend()!r}; worker processes run on the CPU")
    expand = _closure(compiled._make_expand_func)
    single = s.precision == "float32"
    dtype = np.float32 if single else np.float64
    affine = expand.get("affine")  # a warm start: the programs take x, the worker maps z to x
    if affine is not None:
        compiled = dataclasses.replace(compiled, _raw_logp_fn=expand["raw_logp_x"])
    density, shared = _jax_speed.density_function(compiled, single)
    spec = [jax.ShapeDtypeStruct((compiled.n_dim,), dtype)] + [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in shared]
    with jax.enable_x64(not single), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype float64", category=UserWarning)
        logp = export.export(density)(*spec).serialize()
    expand_shared = [np.asarray(compiled._shared_data[k]) for k in expand["expand_shared_names"]]
    with jax.enable_x64(True):
        expand_spec = [jax.ShapeDtypeStruct((compiled.n_dim,), np.float64)] + [
            jax.ShapeDtypeStruct(a.shape, a.dtype) for a in expand_shared]
        expanded = export.export(jax.jit(_joined(expand["expand_fn"], expand["shapes"])))(*expand_spec).serialize()
    return {
        "n_dim": int(compiled.n_dim),
        "logp": {"function": bytes(logp), "shared": shared, "n_dim": int(compiled.n_dim)},
        "affine": None if affine is None else [np.asarray(a, dtype=np.float64) for a in affine],
        "logp_dtype": np.dtype(dtype).name,
        "expand": {"function": bytes(expanded), "shared": expand_shared},
        "names": list(expand["names"]),
        "shapes": [tuple(int(n) for n in shape) for shape in expand["shapes"]],
        # nutpie adds a dim per unnamed axis to its dims as it builds the model; the worker's
        # nutpie adds them again (and their sizes), so only the model's named dims are sent
        "dims": {k: list(v) for k, v in compiled.dims.items() if set(v) <= set(compiled.coords)},
        "coords": {k: np.asarray(v) for k, v in compiled.coords.items()},
        "kwargs": {"draws": s.draws, "tune": s.tune, "target_accept": s.target_accept,
                   "save_warmup": False, **extra},
        "cache_dir": jax.config.jax_compilation_cache_dir or None,  # the parent's, if any
        "cache_bytes": _jax_speed.CACHE_BYTES,  # the worker cannot import geommm: sent, not read
        "cache_min_seconds": _jax_speed.CACHE_MIN_COMPILE_SECONDS,
    }


def _closure(function) -> dict:
    """The variables nutpie's expansion closes over (its jitted function, names, shapes),
    or those a wrapper states as ``exported_parts`` (:mod:`geommm.warm_start`)."""
    if getattr(function, "exported_parts", None) is not None:
        return function.exported_parts
    code = getattr(function, "__code__", None)
    cells = {} if code is None else dict(zip(code.co_freevars, (c.cell_contents for c in function.__closure__ or ())))
    if not {"expand_fn", "expand_shared_names", "names", "shapes"} <= cells.keys():
        raise RuntimeError("this nutpie version builds its draw expansion differently")
    return cells


def _joined(expand_fn, shapes):
    """nutpie's draw expansion as one float64 vector (the worker splits it in numpy): one
    read of a JAX array per draw instead of one per variable (0.32 -> 0.19 ms a draw for
    the design panel's 43 variables). The split trusts ``shapes``, so every output is
    checked against them while tracing; a mismatch raises and the chains run in threads."""
    import jax.numpy as jnp

    def joined(x, *shared):
        outs = list(expand_fn(x, *shared))
        if len(outs) != len(shapes) or any(
                int(np.prod(o.shape)) != int(np.prod(shape)) for o, shape in zip(outs, shapes)):
            raise RuntimeError("nutpie's draw expansion does not return the shapes it declares")
        return jnp.concatenate([jnp.ravel(v).astype(jnp.float64) for v in outs])

    return joined


def chain_seeds(seed: int | None, chains: int) -> list[tuple[int, int]]:
    """(nutpie seed, starting-point seed) per chain, from the fit's seed and the chain's
    index only."""
    children = np.random.SeedSequence(seed).spawn(chains)  # child c: (seed, c) only
    return [tuple(int(v) for v in child.generate_state(2)) for child in children]


def sample(workers: Workers, compiled, s, extra: dict, guard, progress) -> az.InferenceData | None:
    """Every chain of ``s`` sampled by ``workers``, the draws merged in chain order; None
    (the caller samples in threads) when this density cannot be exported."""
    n = len(workers.procs)
    seeds = chain_seeds(s.seed, s.chains)
    try:
        with paused_gc():  # tracing and exporting, like the compile before it
            common = job(compiled, s, extra)
        common["progress_seconds"] = PROGRESS_SECONDS if progress.enabled else 0.0
        payloads = []
        for i in range(n):
            mine = list(range(i, s.chains, n))
            starts = {c: [compiled._make_initial_points(seeds[c][1] + k) for k in range(STARTS_PER_CHAIN)]
                      for c in mine}
            payloads.append(pickle.dumps(dict(common, chains=mine, seeds=[seeds[c][0] for c in mine],
                                              initial_points=starts), protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # noqa: BLE001 - nutpie or JAX not as tested: threads still work
        log.warning("chains run as threads, not processes: the density could not be exported (%s: %s)",
                    type(exc).__name__, exc)
        return None
    for i, proc in enumerate(workers.procs):
        try:
            proc.stdin.write(payloads[i])
            proc.stdin.flush()
        except OSError:
            raise FitError(f"a NUTS worker process stopped before sampling: {workers.error_of(i)}") from None
    counts = {c: (0, 0, 0) for c in range(s.chains)}
    traces: dict[int, az.InferenceData] = {}
    total = lambda: tuple(sum(c[k] for c in counts.values()) for k in range(3))
    while len(traces) < s.chains:
        guard.check()
        progress.tick(total, s.chains * s.tune, s.chains * s.draws)
        try:
            i, message = workers.messages.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        kind = message[0]
        if kind == "progress":
            counts[message[1]] = tuple(message[2:5])
        elif kind == "chain":
            traces[message[1]] = message[2]
        elif kind == "error":
            raise FitError(f"a NUTS worker process failed:\n{message[1]}")
        elif kind == "exit":  # its chains' messages were read before this one
            missing = [c for c in range(i, s.chains, n) if c not in traces]
            if missing:
                raise FitError(f"a NUTS worker process stopped before chain(s) {missing} were done: "
                               f"{workers.error_of(i, wait=0.5)}")
    return merge([traces[c] for c in range(s.chains)])


def merge(traces: list[az.InferenceData]) -> az.InferenceData:
    """One InferenceData from single-chain ones, chains numbered in list order."""
    groups = {}
    for group in traces[0].groups():
        parts = [t[group].assign_coords(chain=[c]) for c, t in enumerate(traces)]
        groups[group] = xr.concat(parts, dim="chain", combine_attrs="override")
    return az.InferenceData(**groups)
