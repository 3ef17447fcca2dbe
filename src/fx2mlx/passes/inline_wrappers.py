"""Pass: inline the bodies of the higher-order ops ``torch.export`` wraps regions in.

``with torch.no_grad():`` (or ``enable_grad``) inside ``forward`` exports as
``wrap_with_set_grad_enabled(enabled, body, *args)``, ``with torch.autocast(...):`` as
``wrap_with_autocast(device, dtype, enabled, cache, body, *args)``: the region's ops live in a
separate graph. Gradients don't matter at inference, so a grad region is inlined as it is.

An autocast region runs some ops in a lower precision (matmul, linear, conv in bfloat16 on
CPU) or in float32, by casting their inputs; export records each op's resulting dtype but not
the casts. The pass traces each op of the region on fake tensors, with and without autocast,
and inserts the casts that appear only under autocast: exactly the ones torch applies. The
generated code then computes in the same dtypes as torch; low-precision kernels may round
differently, so validation tolerances apply as for any bfloat16 model. An op whose casts
can't be traced is reported as unsupported.
"""

from __future__ import annotations

import contextlib
import operator
from typing import Any

import torch
from torch import fx
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.proxy_tensor import make_fx
from torch.fx.experimental.symbolic_shapes import optimization_hint

from ..capture import Captured
from ..capture.graph import copy_scope
from ..converters.registry import layer_for
from ..errors import Unsupported, UnsupportedError
from ..meta import SCOPE

aten = torch.ops.aten
_HOPS = torch.ops.higher_order
_BODY_AT = {_HOPS.wrap: 0, _HOPS.wrap_with_set_grad_enabled: 1, _HOPS.wrap_with_autocast: 4}

Region = tuple[str, torch.dtype] | None
"""The enabled autocast an op runs under, as ``(device_type, dtype)``; None outside one."""


def inline_wrappers(captured: Captured) -> int:
    """Inline every wrapper region (nested ones too); returns how many were inlined."""
    regions: dict[fx.Node, Region] = {}  # the autocast each inlined node runs under
    done = 0
    while True:
        hop = next((n for n in captured.graph.nodes if n.target in _BODY_AT), None)
        if hop is None:
            return done
        _inline(captured, hop, regions)
        done += 1


def _region(hop: fx.Node, regions: dict[fx.Node, Region]) -> Region:
    if hop.target is _HOPS.wrap_with_autocast:
        device, dtype, enabled = hop.args[:3]  # (device, dtype, enabled, cache, body, *args)
        return (device, dtype) if enabled else None
    return regions.get(hop)  # other wrappers run under the autocast around them


def _inline(captured: Captured, hop: fx.Node, regions: dict[fx.Node, Region]) -> None:
    graph, at = captured.graph, _BODY_AT[hop.target]
    body_node, operands = hop.args[at], hop.args[at + 1 :]
    body = captured.subgraphs[str(body_node.target)]
    region = _region(hop, regions)
    env: dict[fx.Node, Any] = {}
    placeholders = iter(operands)
    outputs: tuple = ()
    with graph.inserting_before(hop):
        for node in body.graph.nodes:
            if node.op == "placeholder":
                env[node] = next(placeholders)
            elif node.op == "output":
                outputs = tuple(fx.map_arg(node.args[0], lambda n: env[n]))
            else:
                env[node] = _copy(captured, body, node, env, hop)
                regions[env[node]] = region
                if region is not None and node.op == "call_function":
                    _cast_inputs(captured, env[node], region)
    _replace_outputs(graph, hop, outputs)
    if not body_node.users:
        graph.erase_node(body_node)


def _copy(
    captured: Captured, body: fx.GraphModule, node: fx.Node, env: dict, hop: fx.Node
) -> fx.Node:
    """``node`` copied into the main graph; a nested body is registered under a new name."""
    if node.op == "get_attr":
        key = f"{hop.args[_BODY_AT[hop.target]].target}.{node.target}"
        captured.subgraphs[key] = getattr(body, str(node.target))
        new = captured.graph.get_attr(key)
    else:
        new = captured.graph.node_copy(node, lambda n: env[n])
    new.meta.update(node.meta)
    copy_scope(new, node)
    return new


def _replace_outputs(graph: fx.Graph, hop: fx.Node, outputs: tuple) -> None:
    """Readers of ``hop[i]`` read the body's i-th output."""
    for user in list(hop.users):
        if user.target is not operator.getitem:
            raise NotImplementedError(f"a wrapper region read as a whole by {user}")
        user.replace_all_uses_with(outputs[user.args[1]])
        graph.erase_node(user)
    graph.erase_node(hop)


def _hint(value: object) -> object:
    """A concrete stand-in for a symbolic size (its example value)."""
    return optimization_hint(value, fallback=2) if isinstance(value, torch.SymInt) else value


def _own_casts(node: fx.Node, tensors: list[fx.Node], region: Region) -> dict:
    """The dtype each of ``tensors`` is cast to when torch runs ``node`` (under the autocast
    ``region``): traced on fake tensors, where autocast's casts show as ``_to_copy``."""
    with FakeTensorMode():  # shapes and dtypes only: nothing is allocated
        examples = [
            torch.empty([_hint(d) for d in t.meta["val"].shape], dtype=t.meta["val"].dtype)
            for t in tensors
        ]

    def run(*xs: torch.Tensor) -> object:
        env = dict(zip(tensors, xs))
        args, kwargs = fx.map_arg(
            (node.args, node.kwargs), lambda n: env.get(n, _hint(n.meta.get("val")))
        )
        return node.target(*args, **kwargs)

    context = torch.autocast(*region) if region else contextlib.nullcontext()
    with context:
        traced = make_fx(run, tracing_mode="fake")(*examples)
    inputs = [n for n in traced.graph.nodes if n.op == "placeholder"]
    casts = {}
    for t, ph in zip(tensors, inputs):
        for user in ph.users:
            if user.target is aten._to_copy.default and "dtype" in user.kwargs:
                casts[t] = user.kwargs["dtype"]
    return casts


def _autocast_casts(node: fx.Node, region: Region) -> dict[fx.Node, torch.dtype]:
    """The casts autocast adds to ``node``'s tensor inputs (not the op's own casts)."""
    tensors = [a for a in node.all_input_nodes if isinstance(a.meta.get("val"), torch.Tensor)]
    if not tensors or not isinstance(node.target, torch._ops.OpOverload):
        return {}
    try:
        with_autocast = _own_casts(node, tensors, region)
        without = _own_casts(node, tensors, None)
    except Exception as exc:  # noqa: BLE001 - reported: the region can't be inlined exactly
        raise UnsupportedError([_unsupported(node, exc)]) from exc
    return {t: d for t, d in with_autocast.items() if without.get(t) != d}


def _unsupported(node: fx.Node, exc: Exception) -> Unsupported:
    why = f"an op in a torch.autocast region whose casts can't be traced ({type(exc).__name__})"
    hint = "move the op out of the autocast region, or disable autocast there"
    return Unsupported(str(node.target), why, hint, count=1)


def _cast_inputs(captured: Captured, node: fx.Node, region: Region) -> None:
    """Insert the casts autocast applies to the op's inputs, as nodes of their own."""
    for arg, dtype in _autocast_casts(node, region).items():
        with captured.graph.inserting_before(node):
            cast = captured.graph.call_function(aten._to_copy.default, (arg,), {"dtype": dtype})
        cast.meta.update({k: v for k, v in node.meta.items() if k != "val"})
        cast.meta["val"] = arg.meta["val"].to(dtype)
        cast.meta[SCOPE] = _outside_layers(captured, node.meta.get(SCOPE, ()))
        node.replace_input_with(arg, cast)


def _outside_layers(captured: Captured, scope: tuple) -> tuple:
    """``scope`` up to the first module fx2mlx would convert as one MLX layer: a cast there
    keeps the layer from being collapsed (its MLX layer can't cast)."""
    for i, (_, path) in enumerate(scope):
        if layer_for(captured.module(path)) is not None:
            return scope[:i]
    return scope
