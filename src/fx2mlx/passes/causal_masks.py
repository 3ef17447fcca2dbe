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

from collections.abc import Iterator

import sympy
import torch
from torch import fx

from ..capture import Captured
from ..capture.second_size import _expr
from ..emit_ctx import op_args

aten = torch.ops.aten
SDPA = aten.scaled_dot_product_attention.default
# ops that read only the shape of a tensor argument
_SHAPE_READERS = {
    aten.sym_size.int,
    aten.ones_like.default,
    aten.zeros_like.default,
    aten.full_like.default,
    aten.new_ones.default,
    aten.new_zeros.default,
    aten.new_full.default,
}
_TRIAL_SIZES = (1, 3, 8)  # besides the example's: covers one token, odd and even lengths


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
    lq, lk = (_val(x).shape[-2] for x in (q, k))
    if _expr(lq) != _expr(lk) or _val(mask).shape[-1] != lk or _val(mask).shape[-2] != lq:
        return False
    nodes = _shape_only_ancestors(mask)
    if nodes is None:
        return False
    try:
        return all(
            _causal_values(values[mask])
            for values in _evaluations(captured, nodes, _symbols(captured))
        )
    except Exception:  # noqa: BLE001 - a subgraph torch can't evaluate alone: keep the mask
        return False


def _val(node: fx.Node) -> torch.Tensor:
    return node.meta["val"]


def _shape_only_ancestors(mask: fx.Node) -> list[fx.Node] | None:
    """The nodes ``mask`` is computed from, in graph order, or None if it reads an input's
    values (an input may be reached only through an op that reads its shape)."""
    seen: set[fx.Node] = set()
    stack = [mask]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        if node.op not in ("call_function", "get_attr", "placeholder"):
            return None
        seen.add(node)
        stack += node.all_input_nodes
    for node in seen:
        readers = [u for u in node.users if u in seen]
        if node.op == "placeholder" and any(u.target not in _SHAPE_READERS for u in readers):
            return None
    order = {n: i for i, n in enumerate(mask.graph.nodes)}
    return sorted(seen, key=order.__getitem__)


def _symbols(captured: Captured) -> dict[sympy.Symbol, int]:
    """Every size symbol of the inputs, with the example's value."""
    found: dict[sympy.Symbol, int] = {}
    for node in captured.graph.nodes:
        val = node.meta.get("val")
        if node.op != "placeholder" or not isinstance(val, torch.Tensor):
            continue
        for size in val.shape:
            expr = _expr(size)
            if isinstance(expr, sympy.Symbol):
                found.setdefault(expr, int(size.node.hint or 2))
    return found


def _evaluations(
    captured: Captured, nodes: list[fx.Node], symbols: dict[sympy.Symbol, int]
) -> Iterator[dict[fx.Node, object]]:
    """The subgraph's values at the example's sizes, then with every symbol at each trial
    size (sizes within the range export recorded)."""
    ranges = getattr(captured.program, "range_constraints", None) or {}
    trials = [dict(symbols)]
    for size in _TRIAL_SIZES:
        trial = {s: size for s in symbols if _allowed(ranges.get(s), size)}
        if len(trial) == len(symbols) and trial not in trials:
            trials.append(trial)
    for trial in trials:
        yield _run(captured, nodes, trial)


def _allowed(bounds: object, size: int) -> bool:
    return bounds is None or bool(bounds.lower <= size <= bounds.upper)


def _run(captured: Captured, nodes: list[fx.Node], sizes: dict) -> dict[fx.Node, object]:
    """Evaluate ``nodes`` with each input a zero tensor of its shape at ``sizes``."""
    env: dict[fx.Node, object] = {}
    for node in nodes:
        if node.op == "placeholder":
            val = _val(node)
            shape = [
                int(_expr(s).subs(sizes)) if isinstance(s, torch.SymInt) else s for s in val.shape
            ]
            env[node] = torch.zeros(shape, dtype=val.dtype)
        elif node.op == "get_attr":
            env[node] = captured.consts[node.target]
        else:
            args = fx.node.map_arg(node.args, env.__getitem__)
            kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
            env[node] = node.target(*args, **kwargs)
    return env


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
    _erase_unused(captured, mask)


def _erase_unused(captured: Captured, start: fx.Node) -> None:
    """Erase ``start`` and then each of its inputs that nothing else uses."""
    stack = [start]
    while stack:
        node = stack.pop()
        if node.users or node.op == "placeholder" or node.graph is not captured.graph:
            continue
        inputs = list(node.all_input_nodes)
        captured.graph.erase_node(node)
        stack += inputs
