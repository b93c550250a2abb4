"""Where a cold ``fit(method="laplace")`` spends its CPU seconds on the demo panel, stage by stage.

    GEOMMM_JAX_CACHE=0 python benchmarks/first_look_stages.py

Replays ``approx.densities`` and ``approx.run_density`` one stage at a time (no
thread overlap, so the sum is CPU, not wall; in a real fit the XLA compiles run on a
background thread beside the Python-linker map, the rehearsal and the mode search) and prints ``time.process_time`` per
stage, which counts XLA's compile threads too. Use it to see what a cold first look
costs when the machine is too busy for wall times to mean anything.
"""
import os
import time
import warnings

warnings.simplefilter("ignore")
T = time.process_time
c = T(); import geommm as gm; from geommm.demo import load_demo; print("import geommm", round(T()-c, 2))
c = T(); import jax, pymc, scipy.optimize  # noqa: F401 - their import is part of a first fit
print("import jax etc", round(T()-c, 2))
from geommm import approx, _jax_speed, sampling
from geommm._jax_graph import jaxify
from geommm.approx_corrected import first_look_draws
from geommm.variables_map import python_map
_jax_speed.tune_xla_flags(); _jax_speed.persistent_cache()
data = load_demo(); m = gm.GeoMMM(data.formula, data.panel, geo="geo", time="week", lift_tests=data.lift_tests)
c = T()
from geommm.workflows.preflight import check_before_fit
check_before_fit(m, "block"); print("preflight check", round(T()-c, 2))
c = T(); pmm = m._optimisation_model(); print("build pymc model", round(T()-c, 2))
with _jax_speed.lean_graphs():
    c = T(); lg = approx._logp_graph(pmm); print("logp graph", round(T()-c, 2))
    c = T(); start = approx._flat(approx._start(pmm, 0)); print("initial point", round(T()-c, 2))
    shapes = [x.shape for x in approx._start(pmm, 0)]; split = approx._splitter(shapes)
    c = T(); logp = jaxify(*lg); print("logp rewrite+funcify", round(T()-c, 2))
    c = T(); lowered = jax.jit(_jax_speed.joined_value_and_grad(lambda x: -logp(*split(x))[0])).lower(start); print("logp trace+lower", round(T()-c, 2))
    c = T(); comp = _jax_speed.compile_quickly(lowered); print("logp XLA compile", round(T()-c, 2))
    c = T(); (vi, vo), names = approx._vars_graph(pmm); print("vars graph", round(T()-c, 2))
    c = T(); tv = jaxify(vi, vo); print("vars rewrite+funcify", round(T()-c, 2))
    import numpy as np
    c = T(); lw = jax.jit(jax.vmap(lambda x: tv(*split(x)))).lower(np.zeros((250, start.size))); print("vars trace+lower", round(T()-c, 2))
    c = T(); vc = _jax_speed.compile_quickly(lw); print("vars XLA compile (Laplace; on the background thread)", round(T()-c, 2))
    c = T(); found = python_map(pmm, split); print("Python-linker map (MAP's map, no compile)", round(T()-c, 2))
    c = T(); approx._rehearse(pmm, found, start); print("rehearsal: one-draw posterior (while XLA compiles)", round(T()-c, 2))
d = approx.JaxDensity(pmm, start, shapes, names, 250, comp, vc)
c = T(); mode = approx.find_mode(d); print("mode", round(T()-c, 2))
c = T(); found[0](mode[None, :]); print("MAP: the mode mapped on the Python linker", round(T()-c, 3))
s = sampling.SamplerSettings(method="laplace", draws=1000, chains=4, seed=0)
c = T(); xs, k = first_look_draws(d, mode, s, corrected=True)
print("corrected draws (Hessian, corrected centre, PSIS probe, line marginals)", round(T()-c, 2), round(k, 2))
c = T(); v = d.variables(xs); print("variables", round(T()-c, 2))
c = T(); idata = approx.to_idata(pmm, v, 4); print("to_idata", round(T()-c, 2))
c = T(); fit = m._as_fit(idata, s); print("as_fit", round(T()-c, 2))
c = T(); _ = fit.idata; print("arviz groups (on first read of fit.idata)", round(T()-c, 2))
print(os.getloadavg())
