"""Simulated panels rounded to a fixed precision, so one seed gives one panel on every CPU.

numpy's float64 ``exp``, ``log`` and ``power`` take different vectorised code paths on
different CPUs (with and without AVX-512, for one) and can differ in the last bit.
Last bits matter downstream: NUTS turns a panel that differs by 1e-16 into other
draws, and on short runs into another convergence verdict (two examples ended OK on
one machine and WARNING on another). So the generator rounds every simulated number
the model reads to :data:`SIGNIFICANT_BITS` significant bits of its own magnitude
(about 9.6 decimal digits). The rounding uses only exact operations (``frexp``,
``rint``, ``ldexp``), so it is itself the same everywhere, and a last-bit difference
survives it only when a value lies within an ulp of a rounding boundary: about one
differing cell in a million. It moves each value by at most 2.3e-10 (2^-32) of itself, far
below anything a fit or a truth comparison resolves.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.errors import DataError

__all__ = ["SIGNIFICANT_BITS", "check_bits", "round_bits", "round_floats"]

#: Significant bits kept of each float (float64 has 53).
SIGNIFICANT_BITS = 32


def round_bits(x: np.ndarray, bits: int | None = SIGNIFICANT_BITS) -> np.ndarray:
    """``x`` rounded to ``bits`` significant bits of each value (half to even); ``None``
    returns it as it is. Zeros, infinities and NaNs stay what they are."""
    if bits is None:
        return x
    check_bits(bits)
    mantissa, exponent = np.frexp(np.asarray(x, dtype="float64"))
    return np.ldexp(np.rint(np.ldexp(mantissa, int(bits))), exponent - int(bits))


def check_bits(bits) -> None:
    """``None`` or an int from 1 to 53 (float64's precision); a DataError names the argument."""
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int | np.integer)
                             or not 1 <= int(bits) <= 53):
        raise DataError(f"significant_bits={bits!r}: need None or a whole number from 1 to 53")


def round_floats(frame: pl.DataFrame, bits: int | None = SIGNIFICANT_BITS,
                 columns: list[str] | None = None) -> pl.DataFrame:
    """``frame`` with its float64 columns (or only ``columns``) passed through :func:`round_bits`."""
    if bits is None:
        return frame
    names = columns if columns is not None else [c for c, t in frame.schema.items() if t == pl.Float64]
    out = []
    for n in names:
        col = frame[n]
        rounded = pl.Series(n, round_bits(col.fill_null(0.0).to_numpy(), bits), dtype=col.dtype)
        out.append(rounded if not col.null_count() else rounded.scatter(col.is_null().arg_true(), None))
    return frame.with_columns(out)
