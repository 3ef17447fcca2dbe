"""Sizes-only subgraphs: values computed from the inputs' sizes alone (``arange``,
comparisons, gathers by position), which can be evaluated on their own at any sizes.

Passes use them to prove a rewrite: a subgraph equal to a simple form (the causal triangle,
an ``arange`` along one axis, all-true) at the example's sizes and at several others is
replaced by that form. A subgraph that reads an input's values never qualifies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sympy
import torch
from torch import fx

from ..capture import Captured
from ..capture.graph import input_vals, size_expr

aten = torch.ops.aten
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


def holds_at_every_size(captured: Captured, node: fx.Node, check: Callable[[object], bool]) -> bool:
    """Whether ``node`` depends on input sizes only and ``check`` holds for its value at the
    example's sizes and at every trial size."""
    nodes = _shape_only_ancestors(node)
    if nodes is None:
        return False
    try:
        return all(
            check(values[node]) for values in _evaluations(captured, nodes, _symbols(captured))
        )
    except Exception:  # noqa: BLE001 - a subgraph torch can't evaluate alone: no proof
        return False


def val(node: fx.Node) -> torch.Tensor:
    return node.meta["val"]


def _shape_only_ancestors(mask: fx.Node) -> list[fx.Node] | None:
    """The nodes ``mask`` is computed from, in graph order, or None if it reads an input's
    values (an input may be reached only through an op that reads its shape)."""
    if mask.op == "placeholder":  # the input's values themselves
        return None
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
    for val in input_vals(captured):
        for size in val.shape:
            expr = size_expr(size)
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
            like = val(node)
            shape = [
                int(size_expr(s).subs(sizes)) if isinstance(s, torch.SymInt) else s
                for s in like.shape
            ]
            env[node] = torch.zeros(shape, dtype=like.dtype)
        elif node.op == "get_attr":
            env[node] = captured.consts[node.target]
        else:
            args = fx.node.map_arg(node.args, env.__getitem__)
            kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
            env[node] = node.target(*args, **kwargs)
    return env


def erase_unused(captured: Captured, start: fx.Node) -> None:
    """Erase ``start`` and then each of its inputs that nothing else uses."""
    stack, erased = [start], set()
    while stack:
        node = stack.pop()
        if node in erased or node.users or node.op == "placeholder":
            continue
        inputs = list(node.all_input_nodes)
        captured.graph.erase_node(node)
        erased.add(node)
        stack += inputs
