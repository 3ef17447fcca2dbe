"""The single registry of converters, keyed by exact target (ATen overload or module class).

How to write a converter, with a worked example: ``docs/contributing-converters.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import Expr
from ..layout import LayoutRule, canonical

Emit = Callable[[fx.Node, EmitCtx], Expr]
"""An op converter: the node (with its context) as one MLX expression."""
Check = Callable[[fx.Node], "str | None"]
"""Why this call can't be converted (a configuration MLX can't match), or None."""
Build = Callable[[Any], "Ctor | None"]
"""A layer builder: the torch module as an MLX constructor, or None to convert op by op."""
Bind = Callable[[list[fx.Node], list[fx.Node], list[fx.Node]], "LayerIO | None"]
"""How a layer's call meets the graph: ``bind(members, inputs, outputs)`` (see LayerIO)."""


class Inherent(str):
    """A check's reason that no rewrite lifts (randomness, training mode): fx2mlx reports it
    as it is instead of trying PyTorch's decomposition of the op, which may drop it."""


E = TypeVar("E", bound=Emit)
B = TypeVar("B", bound=Build)


@dataclass(frozen=True)
class OpConverter:
    """Turns one graph node into an MLX expression."""

    target: object
    emit: Emit
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
    traced: tuple[tuple[str, Any], ...] = ()
    """Arguments (by schema name) the layer's traced op must have, as the constructor assumed
    them; a call whose op has others (a ConvTranspose's ``forward(x, output_size)`` picks its
    own ``output_padding``) is converted op by op."""


@dataclass(frozen=True)
class LayerIO:
    """A layer call with several inputs or outputs (an LSTM's states): what it is called with
    and which part of its result each value read outside the layer is."""

    args: tuple
    """The call's arguments: graph values, nested in tuples as the layer's signature has them."""
    outputs: dict[fx.Node, tuple[int, ...]]
    """Each output value, by its index path into the layer's result (``(1, 0)``: ``[1][0]``)."""
    val: Any
    """The layer's result as the frontend would have it (fake tensors in the same structure)."""


@dataclass(frozen=True)
class LayerConverter:
    """Turns a leaf ``torch.nn`` module (its whole forward) into an MLX layer attribute."""

    module_type: type | str
    build: Build
    mlx_type: str
    layout: LayoutRule
    weight_fix: dict[str, str] = field(default_factory=dict)
    family: str = ""
    always: bool = False
    """Use the layer even where a parameter-free functional form could be emitted instead."""
    bind: Bind | None = None
    """For a layer with several inputs or outputs; without it, a call has one of each."""
    forward_op: tuple[object, tuple[str, ...]] | None = None
    """The one op the class's forward is and the attributes it passes after the input
    (``(aten.linear.default, ("weight", "bias"))``): a subclass that overrides forward yet
    traces to exactly that call is this layer."""


OPS: dict[object, OpConverter] = {}
LAYERS: dict[type | str, LayerConverter] = {}
"""Keyed by class, or by ``"module.QualName"`` for third-party classes we don't import."""


def _family(fn: Callable[..., Any]) -> str:
    return fn.__module__.rsplit(".", 1)[-1]


def register_op(
    *targets: object, layout: LayoutRule = canonical, check: Check | None = None
) -> Callable[[E], E]:
    """Decorator: ``emit(node, ctx) -> Expr`` converts calls of each of ``targets``.

    ``layout`` is the op's layout rule (``fx2mlx.layout``; the default keeps PyTorch's layout);
    ``check(node)`` names a configuration MLX can't match. Registering a target twice is an
    error. See ``docs/contributing-converters.md`` for the conventions and a worked example.
    """

    def deco(fn: E) -> E:
        for target in targets:
            if target in OPS:
                raise RuntimeError(f"duplicate converter for {target}")
            OPS[target] = OpConverter(target, fn, layout, check, _family(fn))
        return fn

    return deco


def register_layer(
    module_type: type | str,
    mlx_type: str,
    layout: LayoutRule,
    weight_fix: dict[str, str] | None = None,
    always: bool = False,
    bind: Bind | None = None,
    forward_op: tuple[object, tuple[str, ...]] | None = None,
) -> Callable[[B], B]:
    """Decorator: ``build(module) -> Ctor | None`` turns a leaf module into an MLX layer.

    ``module_type`` is the torch class (or ``"module.QualName"`` for a third-party class);
    stack the decorator to give one builder several classes. ``build`` returns None when this
    configuration can't be one MLX layer; its ops are then converted one by one. ``weight_fix``
    maps a parameter name to the sanitize rule applied to it (see weights.py); ``always`` uses
    the layer even outside lists, where a functional form would do; ``bind`` maps the call of
    a layer with several inputs or outputs onto the graph (see ``LayerIO``); ``forward_op``:
    see ``LayerConverter``. Conventions and a worked example: docs/contributing-converters.md.
    """

    def deco(fn: B) -> B:
        if module_type in LAYERS:
            raise RuntimeError(f"duplicate layer converter for {module_type}")
        fix, family = weight_fix or {}, _family(fn)
        args = (fix, family, always, bind, forward_op)
        LAYERS[module_type] = LayerConverter(module_type, fn, mlx_type, layout, *args)
        return fn

    return deco


def target_name(target: object) -> str:
    """A readable name for an op target (``aten.conv2d.default``)."""
    if isinstance(target, torch._ops.OpOverload):  # aten::conv2d, or a custom mylib::op
        return f"{target._schema.name.replace('::', '.')}.{target._overloadname}"
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


def respelled_layer(module: torch.nn.Module) -> LayerConverter | None:
    """The converter of a base class with a ``forward_op`` whose forward ``module`` overrides
    (its graph must then show exactly that op: see ``passes/collapse_layers.py``)."""
    for cls in type(module).__mro__[1:]:
        conv = LAYERS.get(cls) or LAYERS.get(f"{cls.__module__}.{cls.__qualname__}")
        if conv is not None:
            return conv if conv.forward_op is not None else None
    return None
