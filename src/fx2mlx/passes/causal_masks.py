"""Pass: an attention mask that is the causal triangle becomes ``is_causal`` (MLX's
``mask="causal"``), and the code that built it goes away.

Library code builds causal masks from position ids, ``arange`` comparisons and gathers
(Hugging Face's mask utilities): a dozen generated lines for what a person writes as one
word. A mask qualifies when it depends on the inputs' *sizes* only (never their values), so
its subgraph can be evaluated on its own; it is evaluated at the example's sizes and at
several others and must equal the causal triangle (``key <= query``, as a bool mask or as
0 / a very negative additive mask) at every one, with the query and key lengths equal.
Nothing is pattern-guessed: a mask that differs anywhere at any size is kept as it is.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..capture.graph import size_expr
from ..emit_ctx import op_args
from .size_only import erase_unused, holds_at_every_size, val

aten = torch.ops.aten
SDPA = aten.scaled_dot_product_attention.default


def causal_masks(captured: Captured) -> int:
    """Rewrite each sdpa whose mask is the causal triangle; returns how many."""
    done = 0
    for node in list(captured.graph.nodes):
        if node.op == "call_function" and node.target is SDPA and _is_causal(captured, node):
            _make_causal(captured, node)
            done += 1
    return done


def _is_causal(captured: Captured, node: fx.Node) -> bool:
    args = op_args(node)
    mask, q, k = args.get("attn_mask"), args["query"], args["key"]
    if not isinstance(mask, fx.Node) or args.get("is_causal"):
        return False
    lq, lk = (val(x).shape[-2] for x in (q, k))
    if size_expr(lq) != size_expr(lk) or val(mask).shape[-1] != lk or val(mask).shape[-2] != lq:
        return False
    return holds_at_every_size(captured, mask, _causal_values)


def _causal_values(mask: object) -> bool:
    """Whether ``mask`` allows exactly ``key <= query`` in its last two dims, everywhere."""
    if not isinstance(mask, torch.Tensor) or mask.dim() < 2 or mask.shape[-1] != mask.shape[-2]:
        return False
    n = mask.shape[-1]
    want = torch.ones(n, n, dtype=torch.bool).tril().expand(mask.shape)
    if mask.dtype == torch.bool:
        return bool(torch.equal(mask, want))
    if not mask.is_floating_point():
        return False
    # additive: 0 where allowed; where not, a value softmax turns into an exact 0
    blocked = mask <= torch.finfo(mask.dtype).min / 2
    return bool(torch.equal(mask == 0, want) and torch.equal(blocked, ~want))


def _make_causal(captured: Captured, node: fx.Node) -> None:
    args = op_args(node)
    mask = args["attn_mask"]
    kwargs = {k: v for k, v in args.items() if k not in ("query", "key", "value")}
    kwargs.update(attn_mask=None, is_causal=True)
    node.args = (args["query"], args["key"], args["value"])
    node.kwargs = kwargs
    erase_unused(captured, mask)
