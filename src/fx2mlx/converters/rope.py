"""Rotary position embeddings as ``mx.fast.rope``.

PyTorch has no rotary op: ``fx2mlx::rope`` stands for one in the graph, put there by
``passes/fuse_rope.py`` only where the written-out rotation was proved equal to it. Its torch
implementation below is the reference the proof and any evaluation use: MLX's non-traditional
rope, positions ``offset + arange(L)`` along axis -2 times ``scale``, the first ``dims``
features rotated as two halves, frequencies ``base ** (-2i / dims)``.
"""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import Expr, call
from .registry import register_op


@torch.library.custom_op("fx2mlx::rope", mutates_args=())
def rope_reference(x: torch.Tensor, dims: int, base: float, scale: float) -> torch.Tensor:
    """``mx.fast.rope(x, dims, traditional=False, base=base, scale=scale, offset=0)``."""
    half = dims // 2
    exponents = torch.arange(0, half, dtype=torch.float64) * 2 / dims
    inv_freq = (base ** (-exponents)).to(x.dtype)
    positions = torch.arange(x.shape[-2], dtype=x.dtype) * scale
    theta = positions[:, None] * inv_freq[None, :]
    cos, sin = theta.cos(), theta.sin()
    x1, x2, rest = x[..., :half], x[..., half:dims], x[..., dims:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, rest], dim=-1)


@rope_reference.register_fake
def _rope_fake(x: torch.Tensor, dims: int, base: float, scale: float) -> torch.Tensor:
    return torch.empty_like(x)


@register_op(torch.ops.fx2mlx.rope.default)
def rope(node: fx.Node, ctx: EmitCtx) -> Expr:
    kwargs = {"traditional": "False", "base": repr(float(ctx.arg("base")))}
    kwargs.update(scale=repr(float(ctx.arg("scale"))), offset="0")
    return call("mx.fast.rope", ctx.a("x"), repr(ctx.arg("dims")), **kwargs)
