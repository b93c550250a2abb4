"""Why Laplace's national ROI is off on the demo panel, and what else was tried (issue 18).

    python benchmarks/bench_first_look_alternatives.py            # NUTS 4 x 1000 from the cache
    python benchmarks/bench_first_look_alternatives.py --nuts-cache F
    python benchmarks/bench_first_look_alternatives.py --seed 2027 --vi   # the demo's settings,
        # another simulated panel; NUTS 4 x 500 (+ 500 warm-up) fitted once and cached in /tmp

Runs in one process on the demo panel's MAP/Laplace density (``approx.JaxDensity``:
the optimisation model, non-centred geo deviations) and compares each approximation's
national ROI per channel with the cached NUTS posterior (``bench_first_look.py``
writes the cache). Prints one markdown table per channel row and the CPU seconds each
approximation adds on top of the shipped Laplace (mode + Hessian). Nothing here is
shipped in the library; docs/performance.md ("A first look") records the outcome.

Approximations, all on the same compiled log density and gradient:

- ``laplace``: the shipped normal at the joint mode, covariance the inverse Hessian.
- ``sd-corrected``: the joint mode of a non-centred hierarchy puts the geo spreads too
  high (the volume of the geo deviations is ignored). Adding ``0.5 log det`` of the
  geo-deviation block of the Hessian, as a function of the log spreads with the data's
  precision held at the mode's (INLA's Laplace marginal of the hyper-parameters,
  Rue, Martino & Chopin 2009), moves the spreads to NUTS's values; then Laplace there.
- ``sd-corrected diagonal``: the same with the deviation block taken as diagonal.
- ``... + line``: the line marginal below, along the corrected normal's lines.
- ``line``: the one-dimensional marginal of each channel's log ROI along the normal's
  conditional-mean line (INLA's "simplified" marginal without the determinant term),
  33 density calls per channel; 90% interval from its quantiles (equal-tailed).
- ``tierney-kadane``: each channel's ROI mean as a ratio of two Laplace integrals
  (Tierney & Kadane 1986, "Accurate approximations for posterior moments and marginal
  densities"): the mode of exp(x_j) p(x) and the log-determinant of the Hessian there
  against those at the mode; at the plain mode and at the spread-corrected one.
- ``vi sN/iM seed k``: a Gaussian fitted by stochastic KL (the ELBO over N fixed
  standard-normal draws, L-BFGS over the mean and one log-scale per eigen-direction of
  the Laplace Hessian, M iterations), started at the Laplace; the draw set's seed varies.
  ``vi+cv``: the same with the Laplace quadratic as a control variate.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

# the shipped pieces (``geommm/approx_corrected.py``): which value variables are geo
# deviations and their spreads, and the diagonal spread correction
from geommm.approx_corrected import DiagonalSpreadCorrected
from geommm.approx_corrected import slices as _slices
from geommm.mode_search import hessp_from_gradient, minimize_whitened

DEFAULT_CACHE = Path("/tmp") / "geommm-bench-first-look-nuts.nc"

class SpreadCorrected(DiagonalSpreadCorrected):
    """-log p(x) + 0.5 log det(I + D A D), D = diag(spread of each deviation): the
    Laplace volume of the geo deviations given their spreads; A (the data's precision
    of sd * z) is held at its value at the joint mode. The shipped class keeps A's
    diagonal only; this one the whole block (a log-determinant per call)."""

    def __init__(self, density, hessian: np.ndarray, mode: np.ndarray):
        super().__init__(density, hessian, mode)
        e = np.exp(mode[self.si])
        self.A = (hessian[np.ix_(self.zi, self.zi)] - np.eye(self.zi.size)) / np.outer(e, e)

    def correction(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        e = np.exp(x[self.si])
        m = self.A * np.outer(e, e)
        k = np.eye(e.size) + m
        g_e = np.einsum("ij,ji->i", np.linalg.inv(k), m)  # 0.5 * d logdet / d log spread
        g = np.zeros(x.size)
        np.add.at(g, self.si, g_e)
        return 0.5 * np.linalg.slogdet(k)[1], g


def normal_draws(centre, hessian, n, seed):
    curv, axes = np.linalg.eigh(hessian)
    curv = np.maximum(curv, 1e-2)
    eps = np.random.default_rng(seed).standard_normal((n, centre.size))
    return centre + (eps / np.sqrt(curv)) @ axes.T, eps, axes, curv


def pareto_k(density, xs, eps, n=200) -> float:
    import arviz as az

    lw = np.array([-density.value_and_grad(x)[0] for x in xs[:n]]) + 0.5 * (eps[:n] ** 2).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.asarray(az.psislw(lw)[1]))


def stochastic_kl(density, mode, hessian_axes, curvature, draws, iters, seed, control=False):
    """Mean and per-direction log scales minimising -ELBO over fixed draws (L-BFGS).
    ``control``: the Laplace quadratic as a control variate (its expectations exact),
    so only the density's departure from the quadratic is averaged over the draws."""
    from scipy.optimize import minimize

    n, axes = mode.size, hessian_axes
    scale = 1 / np.sqrt(curvature)
    eps = np.random.default_rng(seed).standard_normal((draws, n))
    q = curvature if control else np.zeros(n)

    def objective(p):
        mu, rho = p[:n], p[n:]
        sc = scale * np.exp(rho)
        dm = axes.T @ (mu - mode)
        value, g_mu, g_rho = 0.0, np.zeros(n), np.zeros(n)
        for i in range(draws):
            y = dm + sc * eps[i]  # the draw's offset from the mode, eigen-coordinates
            v, g = density.value_and_grad(mode + axes @ y)
            ge = axes.T @ g - q * y
            value += v - 0.5 * (q * y * y).sum()
            g_mu, g_rho = g_mu + ge, g_rho + ge * sc * eps[i]
        value = value / draws + 0.5 * (q * (dm**2 + sc**2)).sum() - rho.sum()
        grad_mu = axes @ (g_mu / draws + q * dm)
        return value, np.concatenate([grad_mu, g_rho / draws + q * sc**2 - 1.0])

    res = minimize(objective, np.concatenate([mode, np.zeros(n)]), jac=True, method="L-BFGS-B",
                   options={"maxiter": iters})
    return res.x[:n], scale * np.exp(res.x[n:])


def line_marginal(density, mode, cov, index, width=4.0, points=33):
    """Mean and 5%/95% quantiles of exp(x[index]) along the normal's conditional-mean line."""
    sd = np.sqrt(cov[index, index])
    beta = cov[:, index] / cov[index, index]
    ts = np.linspace(-width, width, points)
    f0 = density.value_and_grad(mode)[0]
    lp = np.array([f0 - density.value_and_grad(mode + beta * (t * sd))[0] for t in ts])
    w = np.exp(lp - lp.max())
    w /= w.sum()
    values = np.exp(mode[index] + ts * sd)
    cdf = np.cumsum(w)
    return float((w * values).sum()), float(np.interp(0.05, cdf, values)), float(np.interp(0.95, cdf, values))


class _Tilted:
    """``-log p(x) - s x[j]``: its minimiser is the mode of ``exp(s x[j]) p(x)``."""

    def __init__(self, base, j: int, s: float):
        self.base, self.j, self.s = base, j, s

    def value_and_grad(self, x):
        v, g = self.base.value_and_grad(x)
        g = g.copy()
        g[self.j] -= self.s
        return v - self.s * x[self.j], g

    def hessp(self, x, v):
        if not hasattr(self, "_hessp"):
            self._hessp = hessp_from_gradient(self.value_and_grad)
        return self._hessp(x, v)


def tierney_kadane(base, centre, hessian, index) -> tuple[float, float]:
    """Mean and sd of exp(x[index]) (a channel's ROI) as ratios of Laplace integrals
    (Tierney & Kadane 1986): E[exp(s x_j)] ~ exp(s x*_j - f(x*) + f(x^)) sqrt(det H^ / det H*),
    x* the mode of the tilted density, H* the Hessian of f = -log p there (the tilt is
    linear, so it adds no curvature)."""
    from scipy.optimize import minimize

    f0, ld0 = base.value_and_grad(centre)[0], np.linalg.slogdet(hessian)[1]
    moments = []
    for s in (1.0, 2.0):
        tilted = _Tilted(base, index, s)
        res = minimize(tilted.value_and_grad, centre, jac=True, hessp=tilted.hessp, method="trust-krylov",
                       options={"gtol": 1e-5, "maxiter": 500})
        moments.append(np.exp(-res.fun + f0 + 0.5 * (ld0 - np.linalg.slogdet(base.hessian(res.x))[1])))
    mean = float(moments[0])
    return mean, float(np.sqrt(max(moments[1] - mean**2, 0.0)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nuts-cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--seed", type=int, default=None,
                   help="simulate the demo's settings with this seed instead of the shipped panel")
    p.add_argument("--vi", nargs="*", default=["16:200:1", "16:200:2", "16:200:3", "16:100:1:cv",
                                               "16:100:2:cv", "16:100:3:cv"],
                   help="draws:iterations:seed[:cv] of each stochastic-KL run (cv: control variate)")
    a = p.parse_args()
    warnings.simplefilter("ignore")
    import geommm as gm
    from geommm import approx, sampling
    from geommm.demo import load_demo

    if a.seed is None:
        data = load_demo()
    else:
        from geommm.demo.make_demo import DEMO_SETTINGS
        from geommm.sim import simulate

        data = simulate(**{**DEMO_SETTINGS, "seed": a.seed})
        a.nuts_cache = Path("/tmp") / f"geommm-bench-first-look-alt-nuts-seed{a.seed}.nc"
    model = gm.GeoMMM(data.formula, data.panel, geo="geo", time="week", lift_tests=data.lift_tests)
    if a.seed is not None and not a.nuts_cache.exists():
        ref = model.fit(draws=500, tune=500, chains=4, seed=0, progressbar=False)
        print(f"NUTS 4 x 500 on seed {a.seed}: {ref.diagnostics().verdict}")
        ref.save(a.nuts_cache)
    if not a.nuts_cache.exists():
        raise SystemExit(f"{a.nuts_cache} missing: run benchmarks/bench_first_look.py first")
    nuts = gm.load_fit(a.nuts_cache).roi(by="channel")
    density = approx.JaxDensity.from_model(model._optimisation_model(), 0, batch=250)
    cpu = time.process_time
    c0 = cpu()
    mode = approx.find_mode(density)
    hess = density.hessian(mode)
    base_cpu = cpu() - c0

    def roi(xs):
        s = sampling.SamplerSettings(method="laplace", draws=xs.shape[0] // 4, chains=4, seed=0)
        idata = approx.to_idata(density.model, density.variables(xs), chains=4)
        t = model._as_fit(idata, s).roi(by="channel")
        return list(zip(t["roi_mean"], t["roi_hdi_low"], t["roi_hdi_high"]))

    rows, notes = {}, {}
    xs, eps, axes, curv = normal_draws(mode, hess, 4000, 0)
    rows["laplace"] = roi(xs)
    notes["laplace"] = f"k {pareto_k(density, xs, eps):.1f}, mode + Hessian {base_cpu:.1f} CPU s"

    first = _slices(density)["roi_log__"].ravel()
    for label, kind in (("sd-corrected", SpreadCorrected), ("sd-corrected diagonal", DiagonalSpreadCorrected)):
        c0 = cpu()
        corrected = kind(density, hess, mode)
        res = minimize_whitened(corrected.value_and_grad, mode, hess, gtol=1e-4)
        chess = corrected.hessian(res.x)
        cx, ceps, *_ = normal_draws(res.x, chess, 4000, 0)
        extra = cpu() - c0
        rows[label] = roi(cx)
        notes[label] = f"k {pareto_k(density, cx, ceps):.1f}, +{extra:.1f} CPU s (Hessian included)"
        c0 = cpu()
        ccov = np.linalg.inv(chess)
        rows[label + " + line"] = [line_marginal(density, res.x, ccov, int(j)) for j in first]
        notes[label + " + line"] = f"+{cpu() - c0:.1f} CPU s on top, 90% equal-tailed"
        c0 = cpu()
        tk = [tierney_kadane(corrected, res.x, chess, int(j)) for j in first]
        rows[label + " + tierney-kadane"] = [(m, lo, hi) for (m, _), (_, lo, hi) in zip(tk, rows[label])]
        notes[label + " + tierney-kadane"] = f"+{cpu() - c0:.1f} CPU s on top; mean only, the normal's intervals"

    c0 = cpu()
    tk = [tierney_kadane(density, mode, hess, int(j)) for j in first]
    rows["tierney-kadane"] = [(m, lo, hi) for (m, _), (_, lo, hi) in zip(tk, rows["laplace"])]
    notes["tierney-kadane"] = f"+{cpu() - c0:.1f} CPU s; mean only, Laplace's intervals"
    c0 = cpu()
    cov = np.linalg.inv(hess)
    rows["line"] = [line_marginal(density, mode, cov, int(j)) for j in first]
    notes["line"] = f"+{cpu() - c0:.1f} CPU s, 90% equal-tailed"

    for spec in a.vi:
        parts = spec.split(":")
        draws, iters, seed = (int(v) for v in parts[:3])
        cv = parts[3:] == ["cv"]
        c0 = cpu()
        mu, sc = stochastic_kl(density, mode, axes, curv, draws, iters, seed, control=cv)
        extra = cpu() - c0
        e2 = np.random.default_rng(0).standard_normal((4000, mode.size))
        vx = mu + (e2 * sc) @ axes.T
        name = f"vi{'+cv' if cv else ''} s{draws}/i{iters} seed {seed}"
        rows[name] = roi(vx)
        notes[name] = f"k {pareto_k(density, vx, e2):.1f}, +{extra:.1f} CPU s"

    channels = nuts["channel"].to_list()
    ref = nuts["roi_mean"].to_list()
    print("| approximation | " + " | ".join(channels) + " | max abs error | all covered | note |")
    print("|---|" + "---|" * (len(channels) + 3))
    print(f"| NUTS mean ({a.nuts_cache.name}) | " + " | ".join(f"{r:.3f}" for r in ref) + " | | | |")
    for name, vals in rows.items():
        errs = [m / r - 1 for (m, _, _), r in zip(vals, ref)]
        cover = all(lo <= r <= hi for (_, lo, hi), r in zip(vals, ref))
        cells = " | ".join(f"{m:.3f} ({e:+.1%})" for (m, _, _), e in zip(vals, errs))
        print(f"| {name} | {cells} | {max(abs(e) for e in errs):.1%} | {'yes' if cover else 'no'} "
              f"| {notes[name]} |")
    print("\nload average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
