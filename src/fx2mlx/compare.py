"""One output of torch against the generated model's: dtype, shape, values.

Integer and boolean outputs must be equal. Float outputs must hold NaN and ±inf at the same
places as torch; the finite rest passes three checks, at a tolerance that follows the dtype:

- norm:        ‖mlx − torch‖ / ‖torch‖ ≤ rtol
- max:         max|mlx − torch| ≤ atol · max(1, max|torch|)
- elementwise: |mlx − torch| ≤ atol + rtol · |torch| at every element (atol unscaled), so one
  small wrong element beside large correct ones fails although the norm hides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import numpy as np
import torch
from torch.utils import _pytree as pytree

from .precision import Precision
from .report import Offender, OutputCheck
from .tensors import mlx_dtype, mlx_to_numpy, torch_to_numpy

# Units of a dtype's epsilon a half-precision output may be off by. torch and MLX round each
# op's result to the dtype separately (both accumulate in float32 inside), so results differ by
# up to a rounding per op, and the differences of a few chained ops add up.
HALF_ULPS = 8
WORST = 3  # offending elements listed per output


@dataclass(frozen=True)
class Tolerance:
    """The tolerance one output is held to."""

    rtol: float
    atol: float


def tolerance_for(dtype: torch.dtype, rtol: float, atol: float) -> Tolerance:
    """The given tolerance (stated for float32), or ``HALF_ULPS`` units of the dtype's epsilon
    where that is larger (float16, bfloat16)."""
    if not dtype.is_floating_point:
        return Tolerance(rtol, atol)
    floor = HALF_ULPS * torch.finfo(dtype).eps if torch.finfo(dtype).bits < 32 else 0.0
    return Tolerance(max(rtol, floor), max(atol, floor))


def tolerance_rule(compute: torch.dtype, precision: Precision | None = None) -> dict[str, Any]:
    """How the tolerances of a validation were set, for the manifest: the floors that apply
    beside the given rtol/atol (each output's own numbers are in its row)."""
    rule: dict[str, Any] = {"compute_dtype": _name(compute)}
    if torch.finfo(compute).bits < 32:
        rule["dtype_floor"] = HALF_ULPS * torch.finfo(compute).eps
        rule["dtype_rule"] = f"{HALF_ULPS} x eps({_name(compute)})"
    if precision is not None and precision.bits is not None:
        rule["reference"] = (
            "torch holding the dequantized weights (the error against the float model is"
            " reported in float_error, not held to a tolerance)"
        )
    elif precision is not None and precision.dtype is not None:
        rule["reference"] = "the float model in torch (float32 where it was float32)"
    return rule


def least_precise(dtypes: list[torch.dtype]) -> torch.dtype:
    """The float dtype with the largest epsilon among ``dtypes`` (float32 if none is a float):
    an output computed through float16 weights carries float16 error whatever its own dtype."""
    floats = [d for d in dtypes if d.is_floating_point]
    return max(floats, key=lambda d: torch.finfo(d).eps, default=torch.float32)


def compare(
    torch_out: Any,
    mlx_out: Any,
    rtol: float,
    atol: float,
    compute_dtype: torch.dtype = torch.float32,
    precision: Precision | None = None,
) -> list[OutputCheck]:
    """Check every output leaf; ``compute_dtype`` is the least precise float the model
    computes in (its weights', its inputs'): no output is held to a tighter tolerance.
    ``precision`` (``convert(dtype=)``): torch's float32 outputs are expected in that dtype."""
    precision = precision or Precision()
    expected = [(n, v) for n, v in _torch_leaves(torch_out) if isinstance(v, torch.Tensor)]
    got = [v for v in mlx_leaves(mlx_out) if isinstance(v, mx.array)]
    if len(expected) != len(got):
        check = OutputCheck("structure", [len(expected)], float("inf"), float("inf"), False)
        check.problem = f"{len(got)} output arrays, torch has {len(expected)}"
        return [check]
    return [
        check_leaf(name, ref, out, tol, _expected_dtype(ref.dtype, precision))
        for (name, ref), out in zip(expected, got)
        for tol in [tolerance_for(least_precise([ref.dtype, compute_dtype]), rtol, atol)]
    ]


def _expected_dtype(dtype: torch.dtype, precision: Precision) -> mx.Dtype:
    """The MLX dtype an output of torch's ``dtype`` must have: a float output comes in the
    generated model's ``dtype`` when one was asked for (the whole model was cast to it)."""
    if precision.dtype is not None and dtype.is_floating_point:
        return mlx_dtype(precision.dtype)
    return mlx_dtype(dtype)


def mlx_leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in mlx_leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in mlx_leaves(v)]
    return [value]


def _torch_leaves(value: Any) -> list[tuple[str, Any]]:
    leaves, _ = pytree.tree_flatten_with_path(value)
    return [(pytree.keystr(path) or "output", leaf) for path, leaf in leaves]


def check_leaf(
    name: str, ref: torch.Tensor, out: mx.array, tol: Tolerance, expect: mx.Dtype | None = None
) -> OutputCheck:
    """Compare one output leaf; ``ok`` only if dtype (``expect``, else torch's), shape and
    values all match."""
    expect = mlx_dtype(ref.dtype) if expect is None else expect
    check = OutputCheck(name, list(ref.shape), 0.0, 0.0, True)
    check.dtype, check.mlx_dtype = _name(ref.dtype), _name(out.dtype)
    check.rtol, check.atol = tol.rtol, tol.atol
    if tuple(out.shape) != tuple(ref.shape):
        check.max_abs = check.rel = check.elem = float("inf")
        return _fail(check, f"shape {tuple(out.shape)}, torch {tuple(ref.shape)}")
    a, b = torch_to_numpy(ref), mlx_to_numpy(out)
    if ref.is_floating_point() or ref.is_complex():
        _compare_floats(check, a, b, tol)
    else:
        _compare_exact(check, a, b)
    if out.dtype != expect:
        _fail(check, f"dtype {check.mlx_dtype}, expected {_name(expect)}")
    return check


def _name(dtype: torch.dtype | mx.Dtype) -> str:
    return str(dtype).split(".")[-1]


def _fail(check: OutputCheck, why: str) -> OutputCheck:
    check.ok = False
    check.problem = f"{check.problem}; {why}" if check.problem else why
    return check


def _compare_exact(check: OutputCheck, a: np.ndarray, b: np.ndarray) -> None:
    """Integers and booleans: every value equal (compared as numbers, not after a cast to
    the output's dtype, so a float output that rounded an integer is caught)."""
    a64 = a.astype(np.int64) if a.dtype == np.bool_ else a
    b64 = b.astype(np.int64) if b.dtype == np.bool_ else b
    diff = np.abs(a64.astype(np.float64) - b64.astype(np.float64))
    wrong = a64 != b64
    _errors(check, a64.astype(np.float64), diff)
    check.elem = float("inf") if wrong.any() else 0.0
    if wrong.any():
        badness = np.where(wrong, np.nan_to_num(diff, nan=np.inf), -1.0)
        check.worst = _worst(badness, a, b, int(wrong.sum()))
        _fail(check, f"{int(wrong.sum())} of {a.size} values differ (integers must be equal)")


def _compare_floats(check: OutputCheck, a: np.ndarray, b: np.ndarray, tol: Tolerance) -> None:
    odd_a, odd_b = ~np.isfinite(a), ~np.isfinite(b)
    differ = (odd_a | odd_b) & ~_same_nonfinite(a, b)
    check.nonfinite = int((odd_a & ~differ).sum())
    finite = ~(odd_a | odd_b)
    wide = np.complex128 if a.dtype.kind == "c" else np.float64  # exact for every input dtype
    a0, b0 = np.where(finite, a, 0).astype(wide), np.where(finite, b, 0).astype(wide)
    diff = np.abs(a0 - b0)
    _errors(check, a0, diff)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero tolerance: any error fails
        ratio = np.where(diff == 0, 0.0, diff / (tol.atol + tol.rtol * np.abs(a0)))
    check.elem = float(ratio.max()) if ratio.size else 0.0
    scale = max(1.0, float(np.abs(a0).max()) if a0.size else 1.0)
    over = int((ratio > 1.0).sum())
    if differ.any():
        _fail(check, f"NaN/inf at {int(differ.sum())} place(s) where torch has another value")
    if check.rel > tol.rtol:
        _fail(check, "rel err beyond rtol")
    if check.max_abs > tol.atol * scale:
        _fail(check, "max abs err beyond atol·max(1, max|torch|)")
    if over:
        _fail(check, f"{over} of {a.size} element(s) beyond atol + rtol·|torch|")
    if not check.ok:  # the places that differ in kind first, then the worst finite ones
        check.worst = _worst(np.where(differ, np.inf, ratio), a, b, a.size)


def _same_nonfinite(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where both hold the same non-finite value: NaN and NaN, or an inf of the same sign."""
    both_nan = np.isnan(a) & np.isnan(b)
    return both_nan | (np.isinf(a) & (a == b))


def _errors(check: OutputCheck, a: np.ndarray, diff: np.ndarray) -> None:
    check.max_abs = float(diff.max()) if diff.size else 0.0
    denom = float(np.linalg.norm(a))
    check.rel = float(np.linalg.norm(diff)) / denom if denom > 0 else check.max_abs


def _worst(badness: np.ndarray, a: np.ndarray, b: np.ndarray, count: int) -> list[Offender]:
    """The ``WORST`` elements with the highest badness (negative marks a good element)."""
    order = np.argsort(-badness, axis=None, kind="stable")[: min(WORST, count)]
    found = []
    for flat in order:
        index = [int(i) for i in np.unravel_index(int(flat), a.shape)]
        found.append(Offender(index, _scalar(a.flat[flat]), _scalar(b.flat[flat])))
    return found


def _scalar(value: np.generic) -> float | int | bool | str:
    if isinstance(value, np.complexfloating):
        return str(complex(value))
    return value.item()  # type: ignore[no-any-return]
