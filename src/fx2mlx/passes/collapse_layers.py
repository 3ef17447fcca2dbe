"""Pass: replace the nodes of each leaf ``torch.nn`` layer by one ``call_module`` node.

A module whose class has a layer converter (Conv2d, Linear, BatchNorm2d, ...) and whose
forward reads one tensor and returns one tensor becomes a single node; the emitter turns it
into ``self.conv1 = nn.Conv2d(...)`` and ``self.conv1(x)``. A layer whose converter binds
several inputs or outputs (an LSTM and its states) becomes one call whose outputs are read by
index (``self.rnn(x)[1][0]``). Parameter-free layers (ReLU,
MaxPool2d) are collapsed only inside ``nn.Sequential``/``nn.ModuleList`` so those lists can be
iterated; elsewhere their ops become functional calls.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace

import torch
from torch import fx, nn

from ..capture import Captured
from ..converters.registry import Ctor, LayerConverter, LayerIO, layer_for, respelled_layer
from ..emit_ctx import op_args
from ..meta import LAYER, SCOPE
from ..parametrized import reparams_of

LIST_TYPES = (nn.Sequential, nn.ModuleList)


def is_list(module: object) -> bool:
    """Whether ``module`` becomes a plain Python list: a Sequential or ModuleList whose
    children are numbered 0..n-1 and that holds no tensor of its own. Named children
    (``Sequential(OrderedDict(conv0=...))``) or tensors (a parametrization's ``original``)
    can't live in a list; such a container is emitted like any other module."""
    if not isinstance(module, LIST_TYPES) or module._parameters or module._buffers:
        return False
    return list(module._modules) == [str(i) for i in range(len(module._modules))]


@dataclass(frozen=True)
class LayerCall:
    path: str
    converter: LayerConverter
    ctor: Ctor
    cast: torch.dtype | None = None
    """The output's dtype where the layer's parameters hold another float dtype (a float32
    norm in a bfloat16 model): torch returns the input's dtype, MLX promotes to float32."""
    respelled: bool = False  # a subclass re-spelling forward: its graph must be forward_op's
    folded: str = ""  # the BatchNorm folded into this convolution (passes/fold_batchnorm.py)


def _parent_path(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _candidate(captured: Captured, path: str) -> LayerCall | None:
    module = captured.module(path)
    conv = layer_for(module)
    respelled = conv is None and (conv := respelled_layer(module)) is not None
    if conv is None or reparams_of(module) is None:
        return None  # no MLX layer, or a parametrization sanitize couldn't redo
    has_state = any(True for _ in module.parameters()) or any(True for _ in module.buffers())
    in_list = is_list(captured.module(_parent_path(path)))
    if not (has_state or conv.always or in_list):
        return None
    ctor = conv.build(module)
    return LayerCall(path, conv, ctor, respelled=respelled) if ctor is not None else None


def _is_forward_op(captured: Captured, members: list[fx.Node], layer: LayerCall) -> bool:
    """A re-spelled forward is the base layer only if it traced to the base's one op, each
    named argument being the module's attribute of that name (its own tensor, or an equal
    value), and the module holds no other tensor (``F.linear(x, self.weight, self.bias)``).
    Casts to the input's dtype are gone by now where they change nothing."""
    op, names = layer.converter.forward_op or (None, ())
    if len(members) != 1 or members[0].target is not op:
        return False
    module = captured.module(layer.path)
    tensors = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
    if tensors != {n for n in names if isinstance(getattr(module, n, None), torch.Tensor)}:
        return False
    args = op_args(members[0])
    return all(_is_attr(captured, args.get(n), layer.path, n, module) for n in names)


def _is_attr(captured: Captured, arg: object, path: str, name: str, module: nn.Module) -> bool:
    """Whether a traced argument is ``module.<name>``: that tensor, or an equal value."""
    value = getattr(module, name, None)
    if not isinstance(value, torch.Tensor):
        return _as_list(arg) == _as_list(value)
    if not (isinstance(arg, fx.Node) and arg.op == "get_attr"):
        return False
    return f"{path}.{name}" in {str(arg.target), *captured.aliases.get(str(arg.target), [])}


def _is_size(node: fx.Node) -> bool:
    return isinstance(node.meta.get("val"), torch.SymInt)


def _members(graph: fx.Graph, frame: tuple[str, str]) -> list[fx.Node]:
    inside = [n for n in graph.nodes if frame in n.meta.get(SCOPE, ())]
    # sizes others still read stay in the graph (the layer derives its own from its input)
    members = set(inside)
    return [n for n in inside if not (_is_size(n) and any(u not in members for u in n.users))]


def _boundary(
    members: list[fx.Node], path: str, aliases: dict[str, list[str]]
) -> tuple[list[fx.Node], list[fx.Node]] | None:
    inside = set(members)
    inputs: list[fx.Node] = []
    for node in members:
        for arg in node.all_input_nodes:
            if arg in inside or arg in inputs:
                continue
            if arg.op == "get_attr":
                names = [str(arg.target), *aliases.get(str(arg.target), [])]
                if not any(n.startswith(f"{path}.") for n in names):
                    return None  # reads a tensor that isn't the layer's own
                continue
            if _is_size(arg):
                continue  # a size: the layer derives it from its own input
            inputs.append(arg)
    outputs = [n for n in members if any(u not in inside for u in n.users)]
    return inputs, outputs


def _traced_as_built(members: list[fx.Node], ctor: Ctor) -> bool:
    """The layer's ops have the arguments its constructor assumed (``Ctor.traced``)."""
    for node in members:
        args = op_args(node) if node.op == "call_function" else {}
        for name, value in ctor.traced:
            if name in args and _as_list(args[name]) != _as_list(value):
                return False
    return True


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def collapse_layers(captured: Captured) -> list[str]:
    """Collapse every eligible leaf layer; returns the module paths collapsed."""
    graph = captured.graph
    frames: list[tuple[str, str]] = []
    for node in graph.nodes:
        for frame in node.meta.get(SCOPE, ()):
            if frame not in frames:
                frames.append(frame)
    done: list[str] = []
    for frame in frames:
        layer = _candidate(captured, frame[1])
        if layer is None:
            continue
        members = _members(graph, frame)
        if not members:
            continue
        boundary = _boundary(members, frame[1], captured.aliases)
        io = _bind(layer, members, boundary) if boundary is not None else None
        if io is None:
            continue
        ranks = layer.ctor.input_ranks
        if ranks and io.args[0].meta["val"].dim() not in ranks:
            continue
        if not _traced_as_built(members, layer.ctor):
            continue
        if layer.respelled and not _is_forward_op(captured, members, layer):
            continue
        _replace(graph, members, io, frame, _with_cast(captured, layer, io))
        done.append(frame[1])
    return done


def _with_cast(captured: Captured, layer: LayerCall, io: LayerIO) -> LayerCall:
    """The layer with ``cast`` set when its float parameters' dtype isn't its output's."""
    if not isinstance(io.val, torch.Tensor) or not io.val.is_floating_point():
        return layer
    module = captured.module(layer.path)
    state = [*module.parameters(), *module.buffers()]
    if all(t.dtype == io.val.dtype for t in state if t.is_floating_point()):
        return layer
    return replace(layer, cast=io.val.dtype)


def _bind(
    layer: LayerCall, members: list[fx.Node], boundary: tuple[list[fx.Node], list[fx.Node]]
) -> LayerIO | None:
    """The layer's call: by its converter's ``bind``, else one input and one output."""
    inputs, outputs = boundary
    if layer.converter.bind is not None:
        return layer.converter.bind(members, inputs, outputs)
    if len(inputs) != 1 or len(outputs) != 1:
        return None
    return LayerIO((inputs[0],), {outputs[0]: ()}, outputs[0].meta.get("val"))


def _replace(
    graph: fx.Graph, members: list[fx.Node], io: LayerIO, frame: tuple[str, str], layer: LayerCall
) -> None:
    last = max(io.outputs, key=members.index)
    scope = last.meta[SCOPE]
    with graph.inserting_after(last):
        node = graph.call_module(layer.path, io.args)
    node.meta[SCOPE] = scope[: scope.index(frame) + 1]
    node.meta["val"] = io.val
    node.meta["stack_trace"] = last.meta.get("stack_trace")
    node.meta[LAYER] = layer
    parts: dict[tuple[int, ...], fx.Node] = {(): node}
    for out, path in io.outputs.items():
        out.replace_all_uses_with(_part(graph, parts, path, scope[: scope.index(frame)]))
    for member in reversed(members):
        attrs = [a for a in member.all_input_nodes if a.op == "get_attr"]
        graph.erase_node(member)
        for attr in attrs:
            if not attr.users:
                graph.erase_node(attr)


def _part(
    graph: fx.Graph, parts: dict[tuple[int, ...], fx.Node], path: tuple[int, ...], scope: tuple
) -> fx.Node:
    """``call[i][j]``: one part of the layer's result, read by the layer's caller."""
    if path in parts:
        return parts[path]
    parent = _part(graph, parts, path[:-1], scope)
    with graph.inserting_after(parent):
        node = graph.call_function(operator.getitem, (parent, path[-1]))
    node.meta["val"] = parent.meta["val"][path[-1]]
    node.meta["stack_trace"] = parent.meta.get("stack_trace")
    node.meta[SCOPE] = scope
    parts[path] = node
    return node
