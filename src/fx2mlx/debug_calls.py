"""The two runs ``debug`` compares: torch's module calls (forward hooks) and the generated
model's (each instance's ``__call__`` recorded), by torch module path, call by call.

The generated attribute paths are torch's, renamed as ``codegen/attrs.py`` renames them
(``state_key``, ``attr_name``); MLX's ``named_modules`` spells list items ``blocks.1``.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import torch
from torch import nn
from torch.utils import _pytree as pytree

from .codegen.attrs import attr_name, segments, state_key
from .io_layout import ChannelsLastIO
from .passes.collapse_layers import is_list
from .tensors import to_mlx

Calls = dict[str, list[Any]]  # module path -> its outputs, call by call


def torch_calls(model: nn.Module, inputs: tuple, run: Any = None) -> list[tuple[str, Any]]:
    """(path, output) of every module call, in the order the calls finished. ``run`` is what
    to call when ``model`` can't run itself (a TorchScript model's plain mirror): then only
    the model's own output is known."""
    log: list[tuple[str, Any]] = []

    def hook(path: str) -> Any:
        def record(module: nn.Module, args: Any, out: Any) -> None:
            # a copy: a later in-place op (``relu_``) must not change what was recorded
            log.append((path, pytree.tree_map(_clone, out)))

        return record

    runs = type(model).forward is not nn.Module.forward or run is None
    handles = [m.register_forward_hook(hook(p)) for p, m in model.named_modules()] if runs else []
    try:
        with torch.no_grad():
            out = (model if runs else run)(*(_clone(x) for x in inputs))
    finally:
        for handle in handles:
            handle.remove()
    if not runs:
        log.append(("", pytree.tree_map(_clone, out)))
    return log


def _clone(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def mlx_calls(generated: Any, paths: dict[str, str], args: list[Any]) -> Calls:
    """Each generated module's outputs by torch path, call by call (``paths``: generated
    path -> torch path)."""
    calls: Calls = {}
    for gpath, module in generated.named_modules():
        if gpath in paths:
            _record(module, paths[gpath], calls)
    out = generated(*args)
    mx.eval([a for a in pytree.tree_leaves((out, calls)) if isinstance(a, mx.array)])
    return calls


def _record(module: Any, path: str, calls: Calls) -> None:
    """Record ``module``'s calls (special methods are looked up on the type: the instance
    gets a subclass of its own)."""
    base = type(module)

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = base.__call__(self, *args, **kwargs)
        calls.setdefault(path, []).append(out)
        return out

    module.__class__ = type(base.__name__, (base,), {"__call__": __call__})


def generated_paths(model: nn.Module) -> dict[str, str]:
    """Generated attribute path (as MLX's ``named_modules`` spells it) -> torch path."""
    return {state_key(model, p): p for p, _ in model.named_modules()}


def instance_at(generated: Any, model: nn.Module, path: str) -> Any:
    """The generated module instance at torch path ``path`` (None where there is none)."""
    node, module = generated, model
    for seg in segments(path):
        try:
            if is_list(module):
                node = node[int(seg)]
            elif isinstance(module, nn.ModuleDict):
                node = node[seg]
            else:
                node = getattr(node, attr_name(module, seg))
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):
            return None
        module = module._modules[seg]
    return node


def mlx_args(inputs: tuple, io_layout: ChannelsLastIO | None) -> list[Any]:
    args = [to_mlx(x) for x in inputs]
    return io_layout.arguments(args) if io_layout else args
