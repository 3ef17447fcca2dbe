"""Tensors the model holds outside its state_dict (non-persistent buffers, constants).

They are not in a PyTorch checkpoint, so they must not be parameters of the generated model
(``sanitize`` could never fill them). When an expression rebuilds one exactly
(``mx.arange(512).reshape(1, 512)``, ``mx.zeros(...)``, a short literal), it becomes a private
attribute (``self._position_ids``), which MLX does not treat as a parameter.
"""

from __future__ import annotations

import torch

from ..emit_ctx import dtype_expr
from ..expr import literal
from .init import Raw, Tree

SMALL = 64  # elements: up to this many, a literal list is clearer than a weights entry


def _dtype_kw(t: torch.Tensor) -> str:
    return "" if t.dtype in (torch.float32, torch.float64) else f", dtype={dtype_expr(t.dtype)}"


def _shape(t: torch.Tensor) -> str:
    dims = ", ".join(str(d) for d in t.shape)
    return f"({dims},)" if t.dim() == 1 else f"({dims})"


def _arange(t: torch.Tensor) -> str | None:
    flat = t.flatten()
    if t.is_floating_point() or t.dtype == torch.bool or flat.numel() < 2:
        return None
    start, step = int(flat[0]), int(flat[1] - flat[0])
    if step == 0:  # a repeated value is no range (and torch.arange refuses step 0)
        return None
    expected = torch.arange(start, start + step * flat.numel(), step, dtype=t.dtype)
    if not torch.equal(flat, expected):
        return None
    args = f"{start}, {start + step * flat.numel()}" + (f", {step}" if step != 1 else "")
    if start == 0 and step == 1:
        args = str(flat.numel())
    text = f"mx.arange({args}{_dtype_kw(t)})"
    return text if t.dim() == 1 else f"{text}.reshape{_shape(t)}"


def constant_tree(t: torch.Tensor) -> Tree | None:
    """An expression that rebuilds ``t`` exactly, or None."""
    t = t.detach().cpu()
    if t.dtype not in (
        torch.float32,
        torch.float64,
        torch.int64,
        torch.int32,
        torch.bool,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.float16,
        torch.bfloat16,
    ):
        return None
    flat = t.flatten()
    if flat.numel() and bool((flat == flat[0]).all()):
        value = flat[0].item()
        if value == 0:
            return Raw(f"mx.zeros({_shape(t)}{_dtype_kw(t)})")
        if value == 1:
            return Raw(f"mx.ones({_shape(t)}{_dtype_kw(t)})")
        return Raw(f"mx.full({_shape(t)}, {literal(value)}{_dtype_kw(t)})")
    arange = _arange(t)
    if arange is not None:
        return Raw(arange)
    if flat.numel() <= SMALL and t.dtype not in (torch.float16, torch.bfloat16):
        return Raw(f"mx.array({literal(t.tolist())}{_dtype_kw(t)})")
    return None
