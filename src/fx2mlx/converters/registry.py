"""The single registry of converters, keyed by exact target (ATen overload or module class)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import Expr
from ..layout import LayoutRule, canonical

Check = Callable[[fx.Node], "str | None"]


@dataclass(frozen=True)
class OpConverter:
    """Turns one graph node into an MLX expression."""

    target: object
    emit: Callable[[fx.Node, EmitCtx], Expr]
    layout: LayoutRule
    check: Check | None = None
    family: str = ""


@dataclass(frozen=True)
class Ctor:
    """An MLX layer constructor call: ``fn(*args, **kwargs)`` with named argument roles."""

    fn: str
    args: list[tuple[str, Any]]
    kwargs: list[tuple[str, Any]] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    """Keyword defaults: a keyword equal to its default everywhere is left out."""
    comment: str = ""
    pre: str = ""
    """Optional wrapper for the call's input, with ``{x}`` (e.g. explicit asymmetric padding)."""
    helpers: tuple[str, ...] = ()
    """Helper definitions (converters/helpers.py) the layer's class needs in the file."""
    input_ranks: tuple[int, ...] = ()
    """Input ranks the layer accepts (empty: any); other calls are converted op by op."""


@dataclass(frozen=True)
class LayerConverter:
    """Turns a leaf ``torch.nn`` module (its whole forward) into an MLX layer attribute."""

    module_type: type | str
    build: Callable[[torch.nn.Module], Ctor | None]
    mlx_type: str
    layout: LayoutRule
    weight_fix: dict[str, str] = field(default_factory=dict)
    family: str = ""
    always: bool = False
    """Use the layer even where a parameter-free functional form could be emitted instead."""


OPS: dict[object, OpConverter] = {}
LAYERS: dict[type | str, LayerConverter] = {}
"""Keyed by class, or by ``"module.QualName"`` for third-party classes we don't import."""


def register_op(
    *targets: object,
    layout: LayoutRule | None = None,
    check: Check | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(node, ctx) -> Expr`` for each target; duplicates are an error."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        family = fn.__module__.rsplit(".", 1)[-1]
        for target in targets:
            if target in OPS:
                raise RuntimeError(f"duplicate converter for {target}")
            OPS[target] = OpConverter(target, fn, layout or canonical, check, family)
        return fn

    return deco


def register_layer(
    module_type: type | str,
    mlx_type: str,
    layout: LayoutRule,
    weight_fix: dict[str, str] | None = None,
    always: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``build(module) -> Ctor | None`` for a leaf module class.

    ``weight_fix`` maps a parameter name to the sanitize rule applied to it (see weights.py).
    ``build`` returns None when this configuration can't be one MLX layer; its ops are then
    converted one by one instead.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if module_type in LAYERS:
            raise RuntimeError(f"duplicate layer converter for {module_type}")
        family = fn.__module__.rsplit(".", 1)[-1]
        LAYERS[module_type] = LayerConverter(
            module_type, fn, mlx_type, layout, weight_fix or {}, family, always
        )
        return fn

    return deco


def target_name(target: object) -> str:
    """A readable name for an op target (``aten.conv2d.default``)."""
    if isinstance(target, torch._ops.OpOverload):
        return f"aten.{target._schema.name.split('::')[-1]}.{target._overloadname}"
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__name__", str(target))
    return f"{module}.{name}" if module else name


def is_layer(module: torch.nn.Module) -> bool:
    """Whether ``module`` has a layer converter (capture keeps such modules whole)."""
    return layer_for(module) is not None


def layer_for(module: torch.nn.Module) -> LayerConverter | None:
    """The layer converter for this module's class, or a base class whose forward it keeps."""
    for cls in type(module).__mro__:
        conv = LAYERS.get(cls) or LAYERS.get(f"{cls.__module__}.{cls.__qualname__}")
        if conv is not None:
            return conv if type(module).forward is cls.forward else None
    return None
