"""Sampling at computed positions: ``F.grid_sample`` and ``F.max_unpool{1,2,3}d``, both
through exact helpers (helpers_sampling.py) on channels-last inputs.

``F.affine_grid`` needs no converter: PyTorch's decomposition of it (a base grid times the
affine matrices) converts op by op.
"""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, call
from ..layout import Decision, Perm, to_channels_last
from .registry import register_op
from .spatial import batched_input, is_unbatched, spatial_layout, unbatch

aten = torch.ops.aten

GRID_SAMPLERS = (
    aten.grid_sampler.default,
    aten.grid_sampler_2d.default,
    aten.grid_sampler_3d.default,
)
_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDINGS = {0: "zeros", 1: "border", 2: "reflection"}


@register_op(*GRID_SAMPLERS, layout=to_channels_last)
def grid_sampler(node: fx.Node, ctx: EmitCtx) -> Expr:
    kwargs = {}
    mode = _MODES[ctx.arg("interpolation_mode")]
    padding = _PADDINGS[ctx.arg("padding_mode")]
    if mode != "bilinear":
        kwargs["mode"] = repr(mode)
    if padding != "zeros":
        kwargs["padding_mode"] = repr(padding)
    if ctx.arg("align_corners"):
        kwargs["align_corners"] = "True"
    return call(ctx.helper("grid_sample"), ctx.a("input"), ctx.a("grid"), **kwargs)


def unpool_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """The values and their indices channels-last alike (as max_pool returns them)."""
    decision = spatial_layout(node, perms)
    args = op_args(node)
    decision.inputs[args["indices"]] = decision.inputs[args["self"]]
    return decision


@register_op(aten.max_unpool2d.default, aten.max_unpool3d.default, layout=unpool_layout)
def max_unpool(node: fx.Node, ctx: EmitCtx) -> Expr:
    indices = ctx.a("indices", ATOM)
    if is_unbatched(node):
        indices = f"{indices}[None]"
    size = ctx.x(tuple(ctx.arg("output_size")))
    return unbatch(node, call(ctx.helper("max_unpool"), batched_input(node, ctx), indices, size))
