"""torch's outputs against the generated model's, at the project tolerance.

Stricter than a plain tolerance check where torch's answer is exact: integer and bool outputs
must be equal, and NaN/inf must sit at the same places (with the same sign) in both.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import numpy as np
import torch
from torch.utils import _pytree as pytree

from fx2mlx.validate import compare

RTOL, ATOL = 1e-4, 1e-3  # the project tolerance: never loosen


def _mlx_leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _mlx_leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _mlx_leaves(v)]
    return [value]


def tensor_leaves(value: Any) -> list[tuple[str, torch.Tensor]]:
    leaves, _ = pytree.tree_flatten_with_path(value)
    return [
        (pytree.keystr(path) or "output", leaf)
        for path, leaf in leaves
        if isinstance(leaf, torch.Tensor)
    ]


def compare_outputs(expected: Any, got: Any) -> str:
    """Why the outputs differ, or "" when every output matches."""
    want = tensor_leaves(expected)
    have = [v for v in _mlx_leaves(got) if isinstance(v, mx.array)]
    if len(want) != len(have):
        return f"{len(have)} output arrays, torch has {len(want)}"
    for name, ref in want:
        out = have.pop(0)
        why = _compare_leaf(ref, out)
        if why:
            return f"{name}: {why}"
    return ""


def _numpy(out: mx.array) -> np.ndarray:
    if out.dtype == mx.bfloat16:
        out = out.astype(mx.float32)
    return np.array(out)


def _compare_leaf(ref: torch.Tensor, out: mx.array) -> str:
    ref = ref.detach().cpu()
    if ref.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 holds it exactly
        ref = ref.float()
    a, b = ref.numpy(), _numpy(out)
    if tuple(a.shape) != tuple(b.shape):
        return f"shape {tuple(b.shape)}, torch {tuple(a.shape)}"
    if not (ref.is_floating_point() or ref.is_complex()):
        bad = int((a != b.astype(a.dtype)).sum())
        return f"{bad} of {a.size} exact values differ" if bad else ""
    a, b = a.astype(np.float64), b.astype(np.float64)
    odd = ~np.isfinite(a)
    same = np.array_equal(odd, ~np.isfinite(b)) and np.array_equal(
        np.nan_to_num(a[odd], nan=0.0), np.nan_to_num(b[odd], nan=0.0)
    )
    if not same:
        return "NaN/inf at other places than torch's"
    a, b = np.where(odd, 0.0, a), np.where(odd, 0.0, b)
    check = compare(torch.from_numpy(a), mx.array(b), RTOL, ATOL)[0]
    return "" if check.ok else f"max abs err {check.max_abs:.3g}, rel err {check.rel:.3g}"
