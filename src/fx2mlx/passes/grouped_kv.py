"""Pass: grouped-query attention reads the shared key/value heads directly.

Models with fewer key/value heads than query heads repeat each k/v head for its group
before attention (Hugging Face's ``repeat_kv``: ``x[:, :, None].expand(B, H, n, L, D)
.reshape(B, H * n, L, D)``). MLX's attention takes the k/v heads as they are and gives query
head ``h`` the k/v head ``h // n``, which is exactly that repetition: the copy goes, and the
generated attention reads like MLX's own Llama.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..emit_ctx import op_args
from .size_only import erase_unused, val

aten = torch.ops.aten
SDPA = aten.scaled_dot_product_attention.default
_RESHAPES = {aten.reshape.default, aten.view.default, aten._unsafe_view.default}


def grouped_kv(captured: Captured) -> int:
    """Feed each repeated key/value's source to attention; returns how many."""
    done = 0
    for node in list(captured.graph.nodes):
        if node.op != "call_function" or node.target is not SDPA:
            continue
        args = op_args(node)
        if val(args["query"]).dim() != 4:
            continue
        for position, name in ((1, "key"), (2, "value")):
            source = _repeated_heads(args[name])
            if source is not None and position < len(node.args):
                node.update_arg(position, source)
                erase_unused(captured, args[name])
                done += 1
    return done


def _repeated_heads(node: object) -> fx.Node | None:
    """``x`` if ``node`` is ``x[:, :, None].expand(B, H, n, L, D).reshape(B, H * n, L, D)``."""
    if not isinstance(node, fx.Node) or node.target not in _RESHAPES:
        return None
    expand = node.args[0]
    if not isinstance(expand, fx.Node) or expand.target is not aten.expand.default:
        return None
    unsq = expand.args[0]
    if not isinstance(unsq, fx.Node) or unsq.target is not aten.unsqueeze.default:
        return None
    source = unsq.args[0]
    if not isinstance(source, fx.Node) or unsq.args[1] not in (2, -3):
        return None
    x, wide, out = val(source), val(expand), val(node)
    if x.dim() != 4 or wide.dim() != 5 or out.dim() != 4:
        return None
    kept = [wide.shape[i] for i in (0, 1, 3, 4)] == list(x.shape)
    merged = out.shape[0] == x.shape[0] and list(out.shape[2:]) == list(x.shape[2:])
    return source if kept and merged and out.shape[1] == x.shape[1] * wide.shape[2] else None
