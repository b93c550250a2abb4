"""``design_lift_tests``: rank candidate Geo-Lift tests by what they would teach the model.

For each channel, test length and kind the future plan is pushed through the
forward model once (every geo-channel cell at once), geo sets are searched
greedily, and each candidate gets its expected lift, standard error, power, value
of information (expected 90% interval width of the channel's national ROI — and of
the tested geos' ROIs — after the refit with the test's result and weeks, vs now) and
cost. Ranked by interval shrink
per unit of cost, or by shrink among tests within ``max_cost``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.experiments.candidates import Candidate, CellPricer, search
from geommm.analysis.experiments.effects import cell_effects, horizon
from geommm.analysis.experiments.plan import future_plan
from geommm.analysis.experiments.precision import LiftPrecision
from geommm.analysis.experiments.preposterior import (
    Reweighting,
    gaussian_ratio,
    interval_width,
    power,
)
from geommm.analysis.experiments.request import KINDS, DesignRequest, check_request
from geommm.analysis.forward import as_forward
from geommm.analysis.roi import incremental_kpi
from geommm.media.transform import map_on_threads

#: Columns of the design table, in order.
COLUMNS = (
    "rank", "test_id", "channel", "kind", "geos", "n_geos", "start", "end", "measure_end",
    "weeks", "post_weeks", "spend_multiplier", "bau_spend", "spend_change", "lift_mean",
    "lift_hdi_low", "lift_hdi_high", "lift_se", "combined_se", "power", "roi_hdi_now", "roi_hdi_after",
    "roi_hdi_shrink", "roi_log_hdi_shrink", "geo_roi_hdi_shrink", "cost", "shrink_per_cost", "identification",
)


def design_lift_tests(
    fit,
    channels=None,
    geos=None,
    weeks=(4, 6, 8),
    kinds=KINDS,
    spend_factor: float = 1.5,
    max_geos: int = 4,
    start=None,
    post_weeks: int = 4,
    max_cost: float | None = None,
    n_best: int | None = 10,
    *,
    lift_se: float | None = None,
    relative_se: float | None = None,
    plan: pl.DataFrame | None = None,
    method: str = "reweight",
    kpi_value: float = 1.0,
    panel_information: bool = True,
    hdi_prob: float = 0.9,
    seed: int = 0,
) -> pl.DataFrame:
    """Ranked candidate tests, one row each (columns :data:`COLUMNS`).

    channels / geos: restrict the search (geos: names to search over, or a list of
    geo lists to evaluate as given); weeks: test lengths; kinds: ``heavy_up``
    (spend x ``spend_factor``) and/or ``go_dark`` (spend 0); start: first test week
    (a date after the panel; default the week after it); post_weeks: weeks measured
    after the spend change ends; max_cost: only tests that cost at most this, ranked
    by shrink; n_best: rows returned (None: all). lift_se / relative_se override the
    panel-based standard error; plan (geo, week, channel, spend) overrides the
    business-as-usual forecast (the same week a year earlier); method: ``reweight``
    or ``gaussian`` preposterior; kpi_value: money per KPI unit, to price a go-dark's
    lost KPI. Costs are spend for heavy-ups and KPI given up (x kpi_value) for go-darks.
    panel_information: the refit also sees the test weeks in the extended panel, so the
    value of information combines the lift row's ``lift_se`` with the panel's own view
    of the lift (``combined_se``); power is the experiment's own, at ``lift_se``.
    """
    forward = as_forward(fit)
    data = forward.data
    req = check_request(
        data, channels=channels, geos=geos, weeks=weeks, kinds=kinds, spend_factor=spend_factor,
        max_geos=max_geos, start=start, post_weeks=post_weeks, max_cost=max_cost, n_best=n_best,
        lift_se=lift_se, relative_se=relative_se, plan=plan, method=method, kpi_value=kpi_value,
        panel_information=panel_information,
    )
    time_col = getattr(getattr(fit, "panel", None), "time_col", None)
    future = future_plan(data, horizon(req.offset, max(req.weeks), req.post_weeks, data.max_lag),
                         req.plan, time_col)
    precision = LiftPrecision(forward)
    spend = data.spend.sum(axis=1)  # (G, C)
    base = incremental_kpi(forward)  # (D, G, C) KPI each cell's media drove, tail included
    with np.errstate(divide="ignore", invalid="ignore"):
        national = base.sum(axis=1) / spend.sum(axis=0)
        geo_roi = base / np.where(spend > 0, spend, np.nan)
    found: list[Candidate] = []
    usual: dict = {}  # business-as-usual contributions per chunk of draws, computed once
    for w in req.weeks:
        variance = precision.geo_variance(w + req.post_weeks)
        panel = precision.panel_variance(w + req.post_weeks) if req.panel_information else None
        for kind in req.kinds:
            mult = req.spend_factor if kind == "heavy_up" else 0.0
            effects = cell_effects(forward, future, req.offset, w, req.post_weeks, kind, mult, usual)
            for c in req.channels:
                pricer = CellPricer(effects, c, variance, req.lift_se, req.relative_se, req.kpi_value,
                                    panel)
                sets = req.geo_sets or search(pricer, national[:, c], req.geo_pool, req.max_geos, req.max_cost)
                found += [pricer.candidate(s) for s in sets if pricer.bau[list(s)].sum() > 0]
    return _table(found, req, data, future, national, geo_roi, hdi_prob, seed, fit)


def _table(found, req: DesignRequest, data, future, national, geo_roi, hdi_prob, seed, fit) -> pl.DataFrame:
    if req.max_cost is not None:
        found = [c for c in found if c.cost <= req.max_cost]
    if not found:
        return pl.DataFrame(schema=_schema())
    lift = np.stack([c.lift for c in found])  # (N, D)
    se = np.array([c.se for c in found])
    cost = np.array([c.cost for c in found])
    reweighting = Reweighting(lift.shape[1], seed=seed, prob=hdi_prob)
    width_now, after = _widths(national, found, req.method, reweighting, hdi_prob)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(width_now > 0, 1.0 - after / width_now, np.nan)
        per_cost = np.where(cost > 0, shrink / cost, np.nan)
    if req.max_cost is not None:
        order = np.lexsort((cost, -shrink))
    else:
        order = np.lexsort((-shrink, -np.nan_to_num(per_cost, nan=-np.inf)))
    if req.n_best is not None:
        order = order[: req.n_best]
    pw = power(lift, se)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_national = np.log(np.where(national > 0, national, np.nan))
    log_now, log_after = _widths(log_national, [found[i] for i in order], req.method, reweighting, hdi_prob)
    log_shrink = dict(zip(order.tolist(), 1.0 - log_after / np.where(log_now > 0, log_now, np.nan)))
    lift_s = summarise(lift.T, hdi_prob)  # draws first
    verdicts = _verdicts(fit)
    rows = []
    for rank, i in enumerate(order, start=1):
        c = found[i]
        first = future.week(req.offset).item()
        end = future.week(req.offset + c.effects.weeks - 1).item()
        rows.append({
            "rank": rank, "test_id": f"test_{rank:02d}", "channel": data.channels[c.channel],
            "kind": c.effects.kind, "geos": ";".join(data.geos[g] for g in c.geos),
            "n_geos": len(c.geos), "start": first, "end": end,
            "measure_end": future.week(req.offset + c.effects.weeks - 1 + req.post_weeks).item(),
            "weeks": c.effects.weeks, "post_weeks": req.post_weeks,
            "spend_multiplier": c.effects.multiplier, "bau_spend": c.bau_spend,
            "spend_change": c.spend_change, "lift_mean": lift_s["mean"][i],
            "lift_hdi_low": lift_s["hdi_low"][i], "lift_hdi_high": lift_s["hdi_high"][i],
            "lift_se": c.se, "combined_se": c.info_se, "power": pw[i], "roi_hdi_now": width_now[i], "roi_hdi_after": after[i],
            "roi_hdi_shrink": shrink[i], "roi_log_hdi_shrink": log_shrink[i],
            "geo_roi_hdi_shrink": _geo_shrink(c, geo_roi, req.method, reweighting, hdi_prob),
            "cost": c.cost, "shrink_per_cost": per_cost[i],
            "identification": verdicts.get(data.channels[c.channel], "unknown"),
        })
    return pl.DataFrame(rows, schema=_schema())


def _widths(quantity, found, method: str, reweighting: Reweighting, prob: float):
    """Interval width of each candidate's channel ``quantity`` (D, C) now, and expected after."""
    chan = [c.channel for c in found]
    now = {c: interval_width(quantity[:, c], prob=prob) for c in set(chan)}
    width_now = np.array([now[c] for c in chan])
    if method == "gaussian":
        ratio = np.array([gaussian_ratio(quantity[:, c.channel], c.lift[None, :], np.array([c.info_se]))[0]
                          for c in found])
        return width_now, width_now * ratio
    orders = {c: np.argsort(quantity[:, c]) for c in set(chan)}  # one sort per channel

    def expected(c: Candidate) -> float:  # numpy on (results, draws) arrays: shared over threads
        return reweighting.expected_sorted_width(quantity[:, c.channel], orders[c.channel], c.lift,
                                                 c.info_se)

    return width_now, np.array(map_on_threads(expected, found))


def _geo_shrink(c: Candidate, geo_roi, method: str, reweighting: Reweighting, prob: float) -> float:
    """Mean expected interval shrink of the tested geos' ROIs."""
    weights = None if method == "gaussian" else reweighting.weights(c.lift, c.info_se)
    out = []
    for g in c.geos:
        q = geo_roi[:, g, c.channel]
        now = interval_width(q, prob=prob)
        if method == "gaussian":
            after = now * gaussian_ratio(q, c.lift[None, :], np.array([c.info_se]))[0]
        else:
            after = reweighting.expected_width(q, weights)
        out.append(1.0 - after / now if now > 0 else np.nan)
    out = [x for x in out if np.isfinite(x)]
    return float(np.mean(out)) if out else float("nan")


def _verdicts(fit) -> dict[str, str]:
    """The channels' national identification verdicts (when a Fit with its priors is given)."""
    if not hasattr(fit, "idata") or not hasattr(fit, "priors"):
        return {}
    from geommm.analysis.identification import identification

    table = identification(fit, geos=False)
    return dict(zip(table["channel"].to_list(), table["verdict"].to_list()))


def _schema() -> dict:
    types = {"rank": pl.Int64, "n_geos": pl.Int64, "weeks": pl.Int64, "post_weeks": pl.Int64}
    text = {"test_id", "channel", "kind", "geos", "identification"}
    dates = {"start", "end", "measure_end"}
    return {
        c: types.get(c, pl.String if c in text else pl.Date if c in dates else pl.Float64)
        for c in COLUMNS
    }
