"""Callbacks run after every :meth:`GeoMMM.fit` (e.g. ``geommm.mlflow.autolog()``).

The fit layer calls :func:`after_fit`; higher layers register here, so the fit layer
never imports them. A failing callback warns and the fit is still returned.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

#: name -> callback(fit); one entry per name, so registering twice replaces.
AFTER_FIT: dict[str, Callable[[Any], None]] = {}


def after_fit(fit: Any) -> None:
    """Run every registered callback on a finished fit."""
    for name, callback in list(AFTER_FIT.items()):
        try:
            callback(fit)
        except Exception as exc:  # a tracking server being down must not lose the fit
            warnings.warn(f"after-fit hook {name!r} failed ({type(exc).__name__}: {exc})", stacklevel=3)
