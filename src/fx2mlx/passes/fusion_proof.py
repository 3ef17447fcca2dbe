"""The proof behind every fusion: a matched subgraph and the fused op compute the same function.

A fusion pass matches loosely (which node is the input, which scalar is the scale) and never
trusts the match: the subgraph between the inputs it names and its output is evaluated on
random inputs of the matched shapes, beside the fused op on the same inputs, in float64 so that
any difference in the math shows above rounding. The rewrite happens only when the two agree
to within a few units of the original dtype's rounding, on every trial.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import torch
from torch import fx

from ..capture import Captured
from ..capture.graph import size_expr
from .size_only import erase_unused

_TRIALS = (0, 1)  # seeds: two independent draws of every input
_SMALL = 3  # every size symbol's value in the cheap trial (odd, above 1 and 2)
_ULPS = 8  # allowed difference, in units of the original dtype's epsilon times the scale


def rewrite_each(
    captured: Captured, anchors: Collection[object], fuse: Callable[[Captured, fx.Node], bool]
) -> int:
    """Try ``fuse`` at every call of an anchor op (``anchors``: a set of targets); how many
    rewrites it made."""
    nodes = [n for n in captured.graph.nodes if n.op == "call_function"]
    return sum(1 for n in nodes if n.target in anchors and fuse(captured, n))


def region(inputs: Sequence[fx.Node], output: fx.Node) -> list[fx.Node] | None:
    """The nodes ``output`` is computed from between ``inputs``, in graph order, or None if the
    subgraph reads any other graph value (then it is not a function of ``inputs`` alone) or
    one of its nodes is also read outside it (it would have to be computed anyway)."""
    stop, seen, stack = set(inputs), set(), [output]
    while stack:
        node = stack.pop()
        if node in seen or node in stop:
            continue
        if node.op != "call_function":
            return None
        seen.add(node)
        stack += node.all_input_nodes
    if any(u not in seen for n in seen - {output} for u in n.users):
        return None
    order = {n: i for i, n in enumerate(output.graph.nodes)}
    return sorted(seen, key=order.__getitem__)


def same_function(
    captured: Captured,
    inputs: Sequence[fx.Node],
    output: fx.Node,
    fused: Callable[..., torch.Tensor],
) -> bool:
    """Whether the subgraph from ``inputs`` to ``output`` equals ``fused(*inputs)`` on random
    inputs of the captured shapes, size symbols small (evaluated in float64), within the
    output dtype's rounding."""
    nodes = region(inputs, output)
    out = output.meta.get("val")
    if nodes is None or not isinstance(out, torch.Tensor) or not _one_dtype(inputs, nodes, out):
        return False
    tol = _ULPS * torch.finfo(out.dtype).eps
    for small in (True, False):  # at small sizes (cheap), else at the example's
        try:
            return all(_agrees(inputs, nodes, output, fused, tol, seed, small) for seed in _TRIALS)
        except Exception:  # noqa: BLE001 - a subgraph torch can't evaluate alone: no proof
            continue
    return False


def _agrees(
    inputs: Sequence[fx.Node],
    nodes: list[fx.Node],
    output: fx.Node,
    fused: Callable[..., torch.Tensor],
    tol: float,
    seed: int,
    small: bool,
) -> bool:
    values = [_random_like(n, seed + i, small) for i, n in enumerate(inputs)]
    want = _evaluate(nodes, dict(zip(inputs, values)))[output]
    got = fused(*values)
    return want.shape == got.shape and _close(want, got, tol)


def _one_dtype(inputs: Sequence[fx.Node], nodes: list[fx.Node], out: torch.Tensor) -> bool:
    """Every floating value in the subgraph has the output's dtype: a cast inside it (a
    float32 upcast in a half-precision model) would change the rounding, so it is not fused."""
    if not out.is_floating_point():
        return False
    vals = [n.meta.get("val") for n in (*inputs, *nodes)]
    return all(
        not isinstance(v, torch.Tensor) or not v.is_floating_point() or v.dtype == out.dtype
        for v in vals
    )


def _close(want: torch.Tensor, got: torch.Tensor, tol: float) -> bool:
    scale = float(want.abs().max()) if want.numel() else 0.0
    return bool(torch.all((want - got).abs() <= tol * max(scale, 1e-30)))


def _random_like(node: fx.Node, seed: int, small: bool) -> torch.Tensor:
    """Random values of ``node``'s shape, every size symbol at ``_SMALL`` if ``small`` (the
    matched ops work at any size; symbols keep the shapes consistent), else at its hint."""
    val = node.meta["val"]
    shape = [_size(s, small) for s in val.shape]
    gen = torch.Generator().manual_seed(seed)
    if val.dtype == torch.bool:
        return torch.rand(shape, generator=gen) < 0.7
    if val.is_floating_point():
        return torch.randn(shape, generator=gen, dtype=torch.float64)
    return torch.randint(0, 5, shape, generator=gen, dtype=val.dtype)


def _size(size: object, small: bool) -> int:
    if not isinstance(size, torch.SymInt):
        return int(size)
    if not small:
        return int(size.node.hint or 2)
    expr = size_expr(size)
    return int(expr.subs({sym: _SMALL for sym in expr.free_symbols}))


def _evaluate(nodes: list[fx.Node], env: dict[fx.Node, object]) -> dict[fx.Node, object]:
    """Run ``nodes`` on ``env``'s values with every floating dtype argument made float64."""
    for node in nodes:
        args = fx.node.map_arg(node.args, env.__getitem__)
        kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
        args, kwargs = _wide(args), {k: _wide(v) for k, v in kwargs.items()}
        env[node] = node.target(*args, **kwargs)
    return env


def _wide(value: object) -> object:
    if isinstance(value, torch.dtype) and value.is_floating_point:
        return torch.float64
    if isinstance(value, (tuple, list)):
        return type(value)(_wide(v) for v in value)
    return value


def replace(
    captured: Captured, output: fx.Node, target: object, args: tuple, kwargs: dict
) -> fx.Node:
    """Put ``target(*args, **kwargs)`` in place of ``output`` (its metadata: value, scope,
    source line) and erase what only the old subgraph read."""
    graph = captured.graph
    with graph.inserting_before(output):
        node = graph.call_function(target, args, kwargs)
    node.meta.update(output.meta)
    output.replace_all_uses_with(node)
    erase_unused(captured, output)
    return node
