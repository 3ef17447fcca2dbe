"""Op by op inside one module: each node's generated expression, fed torch's exact inputs
(in the node's storage layout), against torch's value of that node.

Torch's values come from running the captured graph node by node after the passes (an
inserted transpose is the identity there: it changes storage, not values). Each node is checked
alone, so an error can't come from upstream: the first node that drifts is the culprit.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import torch
from torch import fx
from torch.utils import _pytree as pytree

from .capture import Captured
from .codegen.draft import Drafter
from .codegen.scopes import Scope
from .compare import check_leaf, least_precise, tolerance_for
from .debug_lines import statement
from .expr import ATOM, Expr
from .layout import Perm, relayout
from .meta import LAYER, LAYOUT
from .report import OutputCheck
from .tensors import to_mlx


def torch_values(captured: Captured, inputs: tuple, calls: list[tuple[str, Any]]) -> dict[str, Any]:
    """Every node's value in torch (by node name), the graph run on ``inputs``. A collapsed
    layer's value is what the module returned in torch's own run (``calls``, as
    ``debug_calls.torch_calls`` gives them): its node holds the arguments of the MLX call,
    which are not always torch's (``nn.MultiheadAttention`` takes the query thrice)."""
    recorded: dict[str, list[Any]] = {}
    for path, out in calls:
        recorded.setdefault(path, []).append(out)
    env: dict[str, Any] = {}
    given = iter(inputs)
    with torch.no_grad():
        for node in captured.graph.nodes:
            if node.op == "placeholder":
                value = next(given)
                env[node.name] = value.clone() if isinstance(value, torch.Tensor) else value
            elif node.op == "get_attr":
                env[node.name] = captured.consts[str(node.target)]
            elif node.op in ("call_module", "call_function"):
                env[node.name] = _value(captured, node, recorded, env)
    return env


class Unrun:
    """A node torch could not run on its own (or whose input it could not): not compared."""

    def __init__(self, why: str) -> None:
        self.why = why


def _value(
    captured: Captured, node: fx.Node, recorded: dict[str, list[Any]], env: dict[str, Any]
) -> Any:
    if any(isinstance(env[n.name], Unrun) for n in node.all_input_nodes):
        return Unrun("an input did not run")
    try:
        if node.op == "call_module":
            return _layer_value(captured, node, recorded, env)
        return _run(node, env)
    except Exception as exc:  # noqa: BLE001 - one op torch can't rerun costs only that op
        return Unrun(f"{type(exc).__name__}: {exc}")


def _layer_value(
    captured: Captured, node: fx.Node, recorded: dict[str, list[Any]], env: dict[str, Any]
) -> Any:
    """The part of a layer's torch output its node stands for: all of it, or the one tensor
    the generated call returns (``nn.MultiheadAttention``'s output without its weights).
    Without a recorded output (a TorchScript model's layers take no hooks), the layer runs
    on its node's arguments."""
    path = node.meta[LAYER].path
    if not recorded.get(path):
        return _run(node, env, captured.module(path))
    out = recorded[path].pop(0)
    val = node.meta.get("val")
    if isinstance(out, torch.Tensor) or not isinstance(val, torch.Tensor):
        return out
    leaves = [t for t in pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
    return next((t for t in leaves if t.dim() == val.dim()), out)


def _run(node: fx.Node, env: dict[str, Any], module: Any = None) -> Any:
    args = fx.node.map_arg(node.args, lambda n: env[n.name])
    kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n.name])
    if module is not None:
        return module(*args, **kwargs)
    if node.target is relayout:
        return args[0]  # a transpose of storage only: torch's value is its input's
    if node.target in _VIEWS:  # the passes dropped copies a view relied on (``contiguous``)
        return torch.ops.aten.reshape.default(*args, **kwargs)
    if node.target is _SDPA and args[1].shape[-3] != args[0].shape[-3]:
        kwargs = {**kwargs, "enable_gqa": True}  # k/v heads left ungrouped (``grouped_kv``)
    return node.target(*args, **kwargs)


_VIEWS = (torch.ops.aten.view.default, torch.ops.aten._unsafe_view.default)
_SDPA = torch.ops.aten.scaled_dot_product_attention.default


def _storage(value: Any, perm: Perm | None) -> Any:
    """torch's value as the generated code holds it (MLX, permuted to ``perm``)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_storage(v, perm) for v in value)
    out = to_mlx(value)
    if isinstance(out, mx.array) and perm and len(perm) == out.ndim:
        out = mx.transpose(out, list(perm))
    return out


def canonical(value: Any, perm: Perm | None) -> Any:
    """An MLX value in storage layout ``perm`` back in torch's layout."""
    if isinstance(value, (list, tuple)):
        return type(value)(canonical(v, perm) for v in value)
    if isinstance(value, mx.array) and perm and len(perm) == value.ndim:
        back = sorted(range(len(perm)), key=lambda i: perm[i])
        return mx.transpose(value, back)
    return value


class OpProbe:
    """Evaluates nodes' generated expressions one at a time against torch's values."""

    def __init__(self, captured: Captured, env: dict[str, Any], glob: dict[str, Any]) -> None:
        self.captured = captured
        self.env = env
        self.glob = glob  # the generated module's globals: mx, nn, its helpers
        self.nodes = {n.name: n for n in captured.graph.nodes}
        self.drafter = Drafter(captured, set(), Expr("None"))
        self.matched: set[fx.Node] = set()  # nodes found to match already

    def evaluate(self, node: fx.Node, scope: Scope, instance: Any) -> Any:
        """The generated expression of ``node`` on torch's values of its inputs."""
        expr = statement(node, scope).rhs()
        attrs = self.drafter.attr_values(scope)
        local: dict[str, Any] = {"self": instance}
        values: dict[str, Expr] = {}
        passed = {n.name for n in scope.inputs}  # a tied weight may come in as an argument
        for i, name in enumerate(dict.fromkeys(expr.reads())):
            if name in attrs and name not in passed:
                values[name] = attrs[name]
                continue
            local[f"_fx2mlx_in{i}"] = _storage(self.env[name], self.nodes[name].meta.get(LAYOUT))
            values[name] = Expr(f"_fx2mlx_in{i}", ATOM)
        out = eval(expr.filled(values).text, self.glob, local)  # noqa: S307 - our own code
        mx.eval(out)
        return canonical(out, node.meta.get(LAYOUT))

    def check(
        self, node: fx.Node, scope: Scope, instance: Any, rtol: float, atol: float
    ) -> list[OutputCheck]:
        """Every tensor of ``node``'s value against torch's (an empty list: nothing to
        compare). Raises whatever the generated expression raises."""
        got = self.evaluate(node, scope, instance)
        ref = self.env[node.name]
        refs = [t for t in pytree.tree_leaves(ref) if isinstance(t, torch.Tensor)]
        outs = [a for a in pytree.tree_leaves(got) if isinstance(a, mx.array)]
        if len(refs) != len(outs):
            fail = OutputCheck(node.name, [], float("inf"), float("inf"), False)
            fail.problem = f"{len(outs)} arrays, torch has {len(refs)} tensors"
            return [fail]
        return [
            check_leaf(node.name, r, o, tolerance_for(least_precise([r.dtype]), rtol, atol))
            for r, o in zip(refs, outs)
        ]
