"""The captured program every frontend produces: one flat ATen-level ``fx.Graph``."""

from __future__ import annotations

import operator
import traceback
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx
from torch.utils import _pytree as pytree

from ..meta import SCOPE, UNSCOPED


@dataclass
class Captured:
    """A flat graph plus everything needed to emit and validate it.

    Parameters, buffers and constants are ``get_attr`` nodes whose target is the key in
    ``consts`` (the PyTorch state_dict key where there is one). User inputs are placeholders.
    """

    graph: fx.Graph
    model: torch.nn.Module
    consts: dict[str, torch.Tensor]
    aliases: dict[str, list[str]]
    input_names: list[str]
    out_spec: pytree.TreeSpec
    frontend: str
    dynamic_batch: bool
    warnings: list[str] = field(default_factory=list)
    subgraphs: dict[str, fx.GraphModule] = field(default_factory=dict)
    """Bodies of higher-order ops (``wrap_with_autocast``...), by their ``get_attr`` target;
    the ``inline_wrappers`` pass inlines them."""
    fixed: list[tuple[int, int, int]] = field(default_factory=list)
    """(input, dim, size) of every dim meant to be dynamic that the model fixed: the
    generated code checks them on entry."""
    widened: bool = False
    """Captured from the example with size-1 dynamic dims repeated to 2 (``dynamic.py``)."""
    probe: Any = None
    """What the all-dims-dynamic probe capture learned (``capture/probe.py``), or None."""
    program: Any = None
    """The ``ExportedProgram`` the graph was copied from (``decompose_unsupported`` re-runs
    its decompositions)."""
    stream_state: int = 0
    """How many of the last inputs (and outputs) are streaming state the generated module
    keeps between calls (``capture/streaming.py``)."""
    io_layout: Any = None
    """The inputs and outputs ``channels_last_io`` made channels-last (``io_layout``), set by
    ``assign_layout``."""

    def module(self, path: str) -> torch.nn.Module:
        """The submodule at ``path`` ('' is the model itself)."""
        return self.model.get_submodule(path) if path else self.model


def size_expr(size: object) -> object:
    """A size as sympy sees it: a SymInt's expression (``s0``, ``2*s1``), else the int."""
    return size.node.expr if isinstance(size, torch.SymInt) else size


def input_vals(captured: Captured) -> list[torch.Tensor]:
    """The example value (with symbolic sizes) of every tensor input, in order."""
    vals = [n.meta.get("val") for n in captured.graph.nodes if n.op == "placeholder"]
    return [v for v in vals if isinstance(v, torch.Tensor)]


def is_symbolic(size: object) -> bool:
    """A size the captured program keeps symbolic (export may leave a SymInt that a later
    guard fixed to a number)."""
    return isinstance(size, torch.SymInt) and not size.node.expr.is_number


def copy_scope(new: fx.Node, node: fx.Node) -> None:
    """Give ``new`` the module scope that ``node``'s frontend metadata records."""
    new.meta[SCOPE] = _scope_of(node)
    stack = node.meta.get("nn_module_stack")
    if node.op == "call_function" and (
        not stack or any(k.startswith("_empty_nn_module_stack") for k in stack)
    ):
        new.meta[UNSCOPED] = True


def _scope_of(node: fx.Node) -> tuple[tuple[str, str], ...]:
    stack = node.meta.get("nn_module_stack") or {}
    frames = []
    for key, value in stack.items():
        path = value[0] if isinstance(value, tuple) else ""
        if not path or key.startswith("_empty_nn_module_stack"):
            continue
        call = key.split("@", 1)[1] if "@" in key else "0"
        frames.append((f"{path}@{call}", path))
    return tuple(frames)


def from_exported(ep: Any, model: torch.nn.Module, frontend: str) -> Captured:
    """Turn an ``ExportedProgram`` into a :class:`Captured` with get_attr constants."""
    gm = ep.graph_module
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    sig = ep.graph_signature
    const_of: dict[str, str] = {}
    const_of.update(sig.inputs_to_parameters)
    const_of.update(sig.inputs_to_buffers)
    const_of.update(getattr(sig, "inputs_to_lifted_tensor_constants", {}))
    state = {**ep.state_dict, **ep.constants}
    consts: dict[str, torch.Tensor] = {}
    subgraphs: dict[str, fx.GraphModule] = {}
    input_names: list[str] = []
    tokens = {spec.arg.name for spec in sig.input_specs if spec.kind.name == "TOKEN"}
    for node in gm.graph.nodes:
        if node.name in tokens or _effect_part(graph, node, env):
            continue
        if node.op == "placeholder" and node.name in const_of:
            key = const_of[node.name]
            tensor = state[key]
            consts[key] = tensor.detach() if isinstance(tensor, torch.Tensor) else tensor
            new = graph.get_attr(key)
            new.meta.update(node.meta)
        elif node.op == "placeholder":
            new = graph.placeholder(node.name)
            new.meta.update(node.meta)
            input_names.append(node.name)
        elif node.op == "get_attr":
            value = getattr(gm, node.target)
            key = f"constant{node.target}" if node.target.startswith("_") else str(node.target)
            if isinstance(value, torch.Tensor):
                consts[key] = value.detach()
            elif isinstance(value, fx.GraphModule):
                subgraphs[key] = value
            new = graph.get_attr(key)
            new.meta.update(node.meta)
        elif node.op == "output":
            new = graph.output(tuple(_copied(v, env) for v in _user_outputs(node, sig)))
        else:
            new = graph.node_copy(node, lambda n: env[n])
        copy_scope(new, node)
        env[node] = new
    return Captured(
        graph=graph,
        model=model,
        consts=consts,
        aliases=_aliases(model),
        input_names=input_names,
        out_spec=ep.call_spec.out_spec,
        frontend=frontend,
        dynamic_batch=False,
        subgraphs=subgraphs,
    )


_WITH_EFFECTS = torch.ops.higher_order.with_effects


def _effect_part(graph: fx.Graph, node: fx.Node, env: dict[fx.Node, Any]) -> bool:
    """Copy a side-effecting op (``with_effects(token, op, *args)``, which decompositions
    emit for error checks) as a plain call of ``op``; tokens only order effects, so they go.
    True when ``node`` was one of these (copied or dropped)."""
    if node.op != "call_function":
        return False
    if node.target is _WITH_EFFECTS:
        op, args = node.args[1], node.args[2:]
        if not op._schema.returns:  # a check (``_linalg_check_errors``): no value to keep
            env[node] = None
            return True
        call = graph.call_function(op, tuple(_copied(a, env) for a in args), dict(node.kwargs))
        call.meta.update(node.meta)
        copy_scope(call, node)
        env[node] = call
        return True
    source = node.args[0] if node.args else None
    if node.target is operator.getitem and isinstance(source, fx.Node):
        if source.target is _WITH_EFFECTS:  # (token, *results): a result, or nothing
            call, index = env[source], node.args[1]
            if call is None or index == 0:
                env[node] = None
            elif len(source.args[1]._schema.returns) == 1:
                env[node] = call
            else:
                env[node] = graph.call_function(operator.getitem, (call, index - 1))
                env[node].meta.update(node.meta)
            return True
    return False


def _copied(value: Any, env: dict[fx.Node, fx.Node]) -> Any:
    return env[value] if isinstance(value, fx.Node) else value


def _user_outputs(node: fx.Node, sig: Any) -> list[Any]:
    """The outputs the user's forward returns; an ATen-level program also returns the new
    values of the inputs and buffers it mutates, ahead of them."""
    kinds = [spec.kind for spec in sig.output_specs]
    user = torch.export.graph_signature.OutputKind.USER_OUTPUT
    return [n for n, kind in zip(node.args[0], kinds) if kind == user]


def _aliases(model: torch.nn.Module) -> dict[str, list[str]]:
    """Every state key a tensor is known under (tied weights have several)."""
    by_id: dict[int, list[str]] = {}
    named = list(model.named_parameters(remove_duplicate=False))
    named += list(model.named_buffers(remove_duplicate=False))
    for name, tensor in named:
        by_id.setdefault(id(tensor), []).append(name)
    return {name: by_id[id(t)] for name, t in named}


def user_frame(exc: BaseException) -> str:
    """The innermost traceback frame outside torch and the standard library, as text."""
    frames = traceback.extract_tb(exc.__traceback__)
    best = ""
    for fr in frames:
        path = fr.filename.replace("\\", "/")
        if "/torch/" in path or "/site-packages/" in path or "/lib/python3" in path:
            continue
        if "/fx2mlx/capture/" in path or path.startswith("<"):
            continue  # our own frames, and code fx generated (``<string>``)
        best = f"{fr.filename}:{fr.lineno}: {fr.line}"
    return best
