"""Save and load a Fit: the InferenceData plus the panel columns and settings the
model used, in one netCDF file, so a reloaded fit answers every question without
refitting."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import polars as pl
import xarray as xr

from geommm._atomic import atomic_path
from geommm.analysis.diagnostics import restore_convergence, saved_convergence
from geommm.errors import FitError
from geommm.formula import ModelSpec
from geommm.model.design import Scaling, build_model_data
from geommm.model.log_kpi import level_prior
from geommm.model.priors import resolve_priors
from geommm.sampling import SamplerSettings

if TYPE_CHECKING:
    from geommm.fit import Fit

#: 2: trace variables ``baseline_geo`` and ``effect_geo_sd`` (were ``intercept_geo`` and
#: ``roi_geo_sd``) and today's prior names. 3: seasonality's geo deviations
#: ``season_geo_z`` sum to zero over geos, ``(fourier, geo)``. Older files are upgraded on load.
FORMAT_VERSION = 3


def new_fit_id() -> str:
    """A fresh fit id (saved with the fit; a refreshed fit records its parent's)."""
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_fit(fit: Fit, path: str | Path) -> Path:
    """Write the fit to one netCDF file (atomically); reload with ``geommm.load_fit``."""
    path = Path(path)
    idata = fit.idata.copy()
    meta = {
        "format_version": FORMAT_VERSION,
        "spec": fit.spec.to_dict(),
        "settings": fit.settings.to_dict(),
        "population": fit.population,
        "likelihood": fit.likelihood,
        "prior_overrides": _jsonable_priors(fit.prior_overrides),
        "geo_col": fit.panel.geo_col,
        "time_col": fit.panel.time_col,
        "source": fit.panel.source,
        "scaling": fit.data.scaling.to_dict(),
        "default_roi": fit.default_roi,
        "lineage": fit.lineage,
        "fit_id": fit.fit_id,
        "lift_tests": None if fit.lift_tests is None else fit.lift_tests.drop("geo_list", strict=False).write_json(),
    }
    panel_ds = _panel_dataset(fit)
    if "geommm_panel" in idata.groups():
        del idata["geommm_panel"]
    idata.add_groups({"geommm_panel": panel_ds})
    meta["layout"] = _layout(idata)
    meta["convergence"] = saved_convergence(fit)
    panel_ds.attrs["geommm_meta"] = json.dumps(meta)
    _uncompressed(idata)
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf", compress=False)
    fit.file_sha256 = file_sha256(path)
    return path


#: netCDF encodings that compress or chunk a variable.
_COMPRESSION = ("zlib", "complevel", "compression", "compression_opts", "shuffle", "chunksizes", "fletcher32")


def _uncompressed(idata) -> None:
    """Every variable of ``idata`` (a copy) written whole and uncompressed, including
    those a loaded fit carries compressed from its file. Draws are noise to zlib: the
    demo fit's file was 43 MB compressed against 44 MB not, and compressing its
    4,000 x 10 x 104 pointwise log-likelihood in small chunks took 1-2 s of its save."""
    for group in idata.groups():
        for var in idata[group].variables.values():
            var.encoding = {k: v for k, v in var.encoding.items() if k not in _COMPRESSION}


def _panel_columns(fit: Fit) -> list[str]:
    import formulae as fm

    names = set(fm.model_description(fit.spec.formula).var_names) - {"", fit.panel.geo_col}
    names |= {m.input for m in fit.spec.media} | {m.spend for m in fit.spec.media}
    names |= {t.input for t in (*fit.spec.organic, *fit.spec.treatments)}
    for h in fit.spec.holidays:  # per-geo calendar codes (holidays(country_from=...))
        names |= {c for c in (h.country_from, h.subdivision_from) if c}
    if fit.population:
        names.add(fit.population)
    return sorted(n for n in names if n in fit.panel.columns and n != fit.panel.time_col)


def _panel_dataset(fit: Fit) -> xr.Dataset:
    frame = fit.panel.frame
    G, T = fit.panel.n_geos, fit.panel.n_times
    data_vars = {}
    for col in _panel_columns(fit):
        s = frame[col]
        vals = s.to_numpy() if s.dtype.is_numeric() else np.array(s.cast(pl.String).to_list(), dtype=object).astype(str)
        data_vars[col] = (("geo", "time"), vals.reshape(G, T))
    return xr.Dataset(data_vars, coords={"geo": list(fit.panel.geos), "time": fit.panel.times})


def _jsonable_priors(overrides: dict) -> dict:
    from geommm.model.priors import Prior

    def conv(v):
        if isinstance(v, Prior):
            return {"dist": v.dist, **{k: np.asarray(x).tolist() for k, x in v.params.items()}}
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (tuple, list)):
            return list(v)
        return v

    return {k: conv(v) for k, v in overrides.items()}


def load_fit(path: str | Path) -> Fit:
    """Read a fit written by :meth:`Fit.save` (no refitting)."""
    from geommm.data import read_lift_tests, read_panel
    from geommm.fit import Fit  # Fit's save delegates here, so import it on use

    path = Path(path)
    if not path.exists():
        raise FitError(f"no saved fit at {path}")
    try:
        idata = _read(path)
        panel_ds = idata["geommm_panel"]
        meta = json.loads(panel_ds.attrs["geommm_meta"])
    except Exception as exc:
        raise FitError(
            f"{path} is not a readable geommm fit ({type(exc).__name__}: {exc}); "
            "it may be corrupted or written by another tool — refit and save again"
        ) from None
    if meta.get("format_version") == 1:
        idata, meta = _upgrade_format_1(idata, meta)
    if meta.get("format_version") == 2:
        idata, meta = _upgrade_format_2(idata, meta)
    if meta.get("format_version") != FORMAT_VERSION:
        raise FitError(f"{path}: saved with format {meta.get('format_version')}, this geommm reads {FORMAT_VERSION}")
    geo_col, time_col = meta["geo_col"], meta["time_col"]
    ds = panel_ds.load() if hasattr(panel_ds, "load") else panel_ds
    geos = [str(g) for g in ds["geo"].values]
    times = np.asarray(ds["time"].values).astype("datetime64[D]")
    cols = {geo_col: np.repeat(geos, len(times)), time_col: np.tile(times, len(geos))}
    for name in ds.data_vars:
        cols[name] = np.asarray(ds[name].values).reshape(-1)
    frame = pl.DataFrame(cols).with_columns(pl.col(time_col).cast(pl.Date))
    panel = read_panel(frame, geo=geo_col, time=time_col)
    spec = ModelSpec.from_dict(meta["spec"])
    # files from before precision existed were sampled in float64
    settings = SamplerSettings(**{"precision": "float64", **meta["settings"]})
    # frozen scaling (saved since refresh existed): a refreshed fit keeps its root's scales
    scaling = Scaling.from_dict(meta["scaling"]) if meta.get("scaling") else None
    data = build_model_data(spec, panel, population=meta.get("population"), scaling=scaling)
    from geommm.model.priors import DEFAULT_MEDIA_SHARE

    default_roi = meta.get("default_roi") or DEFAULT_MEDIA_SHARE * float(data.kpi.sum()) / float(data.spend.sum())
    priors = resolve_priors(meta.get("prior_overrides"), list(spec.channels), default_roi, spec=spec,
                            level=level_prior(spec))
    lifts = None
    if meta.get("lift_tests"):
        lifts = read_lift_tests(pl.read_json(meta["lift_tests"].encode()))
    del idata["geommm_panel"]
    fit = Fit(
        idata=idata, spec=spec, panel=panel, settings=settings, priors=priors,
        prior_overrides=meta.get("prior_overrides"), population=meta.get("population"),
        likelihood=meta.get("likelihood", "normal"), lift_tests=lifts, data=data,
        default_roi=default_roi, lineage=meta.get("lineage"), fit_id=meta.get("fit_id"),
    )
    restore_convergence(fit, meta.get("convergence"))
    fit.file_sha256 = file_sha256(path)
    return fit


#: Groups every result call needs, read whole at load; the others (log_likelihood,
#: posterior_predictive, prior, ...) are opened lazily: their values are read on first use.
EAGER_GROUPS = ("posterior", "sample_stats", "observed_data", "constant_data", "geommm_panel")
#: HDF5 attributes that belong to the netCDF layout, not to a variable.
_LAYOUT_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid", "_Netcdf4Coordinates",
                 "_NCProperties", "_nc3_strict"}


def _layout(idata) -> dict[str, dict[str, list[str]]]:
    """Each group's variables (coordinates included) and their dims, saved in the metadata
    so :func:`_read` can read the file without netCDF's per-variable dimension lookups."""
    return {
        group: {str(name): [str(d) for d in var.dims] for name, var in idata[group].variables.items()}
        for group in idata.groups()
    }


def _read(path: Path):
    """The saved InferenceData: the groups in EAGER_GROUPS read whole with h5py, the rest
    opened lazily with xarray. Files without a saved layout go through arviz.

    Profile (demo fit, 48 MB, 108 variables): ``az.from_netcdf`` spent ~1.6 s of CPU,
    most of it in h5netcdf resolving each variable's dimensions; reading the same
    values with h5py takes ~0.2 s, and log_likelihood (two thirds of the bytes) is
    not needed by any table."""
    import h5py

    with h5py.File(path, "r") as f:
        if "geommm_panel" not in f:
            return az.from_netcdf(str(path), engine="h5netcdf")
        layout = json.loads(_attr(f["geommm_panel"].attrs["geommm_meta"])).get("layout")
        if not _layout_matches(layout, f):  # e.g. a file edited or written by another tool
            return az.from_netcdf(str(path), engine="h5netcdf")
        groups = {g: _eager_group(f[g], layout[g]) for g in layout if g in EAGER_GROUPS}
        attrs = {k: _attr(v) for k, v in f.attrs.items() if k not in _LAYOUT_ATTRS}  # netCDF's own
    for g in layout:
        if g not in EAGER_GROUPS:
            groups[g] = xr.open_dataset(str(path), group=g, engine="h5netcdf")
    return az.InferenceData(attrs=attrs, **{g: groups[g] for g in layout})


def _layout_matches(layout: dict | None, f) -> bool:
    """The saved layout names exactly the file's groups and, in the eager groups, its variables."""
    if not layout or set(layout) != set(f.keys()):
        return False
    return all(set(layout[g]) == set(f[g].keys()) for g in layout if g in EAGER_GROUPS)


def _eager_group(group, variables: dict[str, list[str]]) -> xr.Dataset:
    """One netCDF group as xarray decodes it (CF: booleans, dates, fill values), from h5py."""
    dims = {name for name, d in variables.items() if d == [name]}
    raw = {}
    for name, var_dims in variables.items():
        h5 = group[name]
        values = h5.asstr()[()] if h5.dtype.kind == "O" else h5[()]
        if h5.dtype.kind == "O" and var_dims == [name]:
            values = values.astype(str)  # a text index, as xarray holds it
        attrs = {k: _attr(v) for k, v in h5.attrs.items() if k not in _LAYOUT_ATTRS}
        raw[name] = xr.Variable(var_dims, np.asarray(values), attrs)
    coords = {n: v for n, v in raw.items() if n in dims}
    data_vars = {n: v for n, v in raw.items() if n not in dims}
    ds = xr.Dataset(data_vars, coords=coords, attrs={k: _attr(v) for k, v in group.attrs.items() if k not in _LAYOUT_ATTRS})
    return xr.decode_cf(ds).load()


def _attr(value: Any) -> Any:
    """An HDF5 attribute as netCDF readers return it (text as str, one-element arrays unwrapped)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        value = np.array([v.decode() if isinstance(v, bytes) else v for v in value.ravel()], dtype=object)
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(-1)[0]
    return value


_FORMAT_1_TRACE_NAMES = {
    "intercept_geo": "baseline_geo",
    "roi_geo_sd": "effect_geo_sd",
    "roi_geo_sd_log__": "effect_geo_sd_log__",
}


def _upgrade_format_1(idata, meta: dict) -> tuple[Any, dict]:
    """A format-1 fit in format-2 names: the renamed trace variables, and old prior names
    in the saved overrides mapped quietly (the user did not type them today)."""
    from geommm.model.priors import RENAMED_PRIORS

    groups = [g for g in idata.groups() if g != "geommm_panel"]
    idata.rename(_FORMAT_1_TRACE_NAMES, groups=groups, inplace=True)
    channels = {m["name"] for m in meta["spec"].get("media", ())}

    def renamed(table: dict) -> dict:
        return {RENAMED_PRIORS.get(k, k): v for k, v in table.items()}

    overrides = {}
    for key, value in (meta.get("prior_overrides") or {}).items():
        if key in channels:
            overrides[key] = renamed(value) if isinstance(value, dict) else value
        else:
            overrides[RENAMED_PRIORS.get(key, key)] = value
    return idata, {**meta, "prior_overrides": overrides, "format_version": 2}


def _upgrade_format_2(idata, meta: dict) -> tuple[Any, dict]:
    """Format 2's free seasonality deviations ``season_geo_z`` ``(geo, fourier)`` in format
    3's zero-sum coordinates ``(fourier, geo)``, every draw's geo seasonality unchanged:
    the deviations' geo mean (times the spread) moves into the national coefficient.
    A refresh reads these coordinates (``model/sampler_prior.py``); the tables read
    ``season_geo``, which does not change."""
    post = idata.posterior if "posterior" in idata.groups() else None
    if post is not None and "season_geo_z" in post and post["season_geo_z"].dims[-1] != "geo":
        z = post["season_geo_z"]
        if "season_geo_sd" in post:
            sd = post["season_geo_sd"]
        else:  # a refreshed fit keeps the sampler's coordinates
            sd = np.exp(post["season_geo_sd_log__"])
        mean = z.mean("geo")
        post["seasonality"] = post["seasonality"] + sd * mean
        post["season_geo_z"] = (z - mean).transpose(*z.dims[:-2], "fourier", "geo")
    return idata, {**meta, "format_version": 3}
