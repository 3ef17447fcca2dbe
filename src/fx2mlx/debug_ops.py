"""Op by op inside one module: each node's generated expression, fed torch's exact inputs
(in the node's storage layout), against torch's value of that node.

Torch's values come from running the captured graph node by node after the passes (an
inserted transpose is the identity there: it changes storage, not values). Each node is checked
alone, so an error can't come from upstream: the first node that drifts is the culprit.
"""

from __future__ import annotations

import linecache
import operator
import re
from pathlib import Path
from typing import Any

import mlx.core as mx
import torch
from torch import fx
from torch.utils import _pytree as pytree

from .capture import Captured
from .codegen.collect import layer_stmt, op_stmt, relayout_stmt
from .codegen.draft import Drafter
from .codegen.scopes import Scope
from .codegen.statements import Kind, Stmt
from .compare import check_leaf, least_precise, tolerance_for
from .debug_report import OpFinding
from .expr import ATOM, Expr
from .layout import Perm, relayout
from .meta import LAYER, LAYOUT, SCOPE
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


def statement(node: fx.Node, scope: Scope) -> Stmt:
    """The statement codegen builds for ``node`` (its holes name the values it reads)."""
    if node.op == "call_module":
        return layer_stmt(node, scope, 0)
    if node.target is relayout:
        return relayout_stmt(node, 0)
    return op_stmt(node, scope, 0, set())


def op_name(node: fx.Node) -> str:
    """``aten.softmax.int``, ``nn.Linear``, ``getitem``: what a person looks up."""
    if node.op == "call_module":
        return node.meta[LAYER].ctor.fn
    if node.target is operator.getitem:
        return "getitem"
    if node.target is relayout:
        return "transpose (layout)"
    if isinstance(node.target, torch._ops.OpOverload):
        return str(node.target)  # ``aten.softmax.int``: namespace, op and overload
    return str(getattr(node.target, "__name__", node.target))


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


def finding(
    node: fx.Node, scope: Scope, source: str, cls: str, checks: list[OutputCheck]
) -> OpFinding:
    """What to print for a node that drifts: its op, the generated and the user's lines."""
    stmt = statement(node, scope)
    found = OpFinding(op_name(node), node.name, module=_owner(node, scope))
    if checks:
        found.max_abs = max(c.max_abs for c in checks)
        found.rel = max(c.rel for c in checks)
        found.elem = max(c.elem for c in checks)
        found.note = "; ".join(c.problem for c in checks if c.problem)
    line = generated_line(source, cls, node, scope)
    if line is not None:
        found.generated_line, found.generated_text = line
    if node.op == "call_module":  # a layer: where it is called, not its own forward
        user = stmt.line or _user_frame(node)
    else:
        user = _user_frame(node) or stmt.line
    if user is not None:
        found.user_file, found.user_line = user[0], user[1]
        found.user_text = linecache.getline(user[0], user[1]).strip()
    return found


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')


_TORCH = str(Path(torch.__file__).parent)


def _user_frame(node: fx.Node) -> tuple[str, int, str] | None:
    """The innermost frame of the node's stack trace outside torch itself: the user's line
    that made the op (inside a module the generated code inlined, too)."""
    frames = _FRAME.findall(node.meta.get("stack_trace") or "")
    frames = [f for f in frames if not f[0].startswith(_TORCH)]
    return (frames[-1][0], int(frames[-1][1]), frames[-1][2]) if frames else None


def _owner(node: fx.Node, scope: Scope) -> str:
    """``act (Shifted)``: the innermost module whose forward made the op."""
    frames = node.meta.get(SCOPE) or ()
    path = frames[-1][1] if frames else scope.path
    if node.op == "call_module":
        path = node.meta[LAYER].path
    root = scope
    while root.parent is not None:
        root = root.parent
    try:
        module = root.module.get_submodule(path) if path else root.module
    except AttributeError:  # a path the model no longer has: name the scope's module
        module = scope.module
    return f"{path or '<model>'} ({type(module).__name__})"


_CALL = re.compile(r"([A-Za-z_][\w.]*)\(")
_OPERATOR = re.compile(r"[-+*/@%<>=!&|^~]+|\[")


def token(node: fx.Node, scope: Scope) -> str | None:
    """A piece of text the node's generated code shows: the function it calls, else its
    operator."""
    stmt = statement(node, scope)
    if stmt.kind is Kind.CALL:
        return stmt.callee + "("
    if stmt.kind is not Kind.OP:
        return None
    text = re.sub(r"\x00[^\x00]*\x00", " ", stmt.rhs().text)
    m = _CALL.search(text) or _OPERATOR.search(text)
    return (m.group(1) + "(" if m.re is _CALL else m.group(0)) if m else None


def generated_line(source: str, cls: str, node: fx.Node, scope: Scope) -> tuple[int, str] | None:
    """The line of ``cls.__call__`` in ``source`` holding ``node``'s code: the k-th showing
    of its token, k counted over the scope's earlier nodes; else the ``def __call__`` line."""
    lines = source.splitlines()
    span = _call_span(lines, cls)
    if span is None:
        return None
    start, end = span
    tok = token(node, scope)
    if tok is not None:
        before = scope.nodes[: scope.nodes.index(node)] if node in scope.nodes else []
        k = sum(1 for n in before if token(n, scope) == tok)
        seen = 0
        for i in range(start, end):
            seen += lines[i].count(tok)
            if seen > k:
                return i + 1, lines[i].strip()
    return start + 1, lines[start].strip()


def _call_span(lines: list[str], cls: str) -> tuple[int, int] | None:
    """0-based [start, end) of ``cls.__call__`` (start: its ``def`` line)."""
    head = next((i for i, t in enumerate(lines) if t.startswith(f"class {cls}(")), None)
    if head is None:
        return None
    start = None
    for i in range(head + 1, len(lines)):
        text = lines[i]
        ends = bool(text) and not text[0].isspace()  # the next top-level definition
        if start is not None and (ends or text.startswith("    def ")):
            return start, i
        if ends:
            return None
        if text.startswith("    def __call__"):
            start = i
    return (start, len(lines)) if start is not None else None
