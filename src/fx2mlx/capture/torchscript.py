"""TorchScript modules (``torch.jit.script``/``trace``, ``torch.jit.load`` archives) for the
trace frontend.

The TorchScript interpreter calls every ATen op through the dispatcher, so the trace
frontend's recording sees a scripted forward's ops as it sees Python's (PyTorch's own
``TS2EPConverter`` refuses real archives: silero-vad's assigns attributes inside ``if``).
What differs, and is handled here:

- forward hooks don't fire inside the interpreter: ``script_scopes`` gives the ops their
  module scopes instead;
- codegen reads the module tree, so it gets a plain ``nn.Module`` mirror of the ScriptModules
  (same tensors under the same keys, one class per scripted class, named after it); a
  scripted ``torch.nn`` layer is rebuilt as that layer from its constants (a traced one from
  the op it recorded, ``traced_layers``), so codegen emits it as an MLX layer;
- ``torch.jit.trace`` records convolutions as ``aten::_convolution``: recorded as the
  ``convNd`` they are (:data:`DECOMPOSITIONS`);
- reads of tensor values happen in TorchScript, invisible to Python: the recorded ops that
  hand a value to the interpreter (``aten::equal``, ``aten::item``...) are reported instead;
- attributes the forward assigns (``self._state = ...``: state kept between calls) are
  restored after the recording; tensors among them are the streaming state
  ``streaming.Stream`` passes in and out, the others (and all of them when the model is no
  stream) are captured as the values the recording read, and reported.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
from collections.abc import Iterator

import torch
from torch import fx, nn

from .bound import share_state
from .traced_layers import traced_layer

_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# recorded ops whose result is a Python value read from tensor data
READ_OPS = {
    torch.ops.aten.item.default,
    torch.ops.aten._local_scalar_dense.default,
    torch.ops.aten.equal.default,
    torch.ops.aten.is_nonzero.default,
}


def _convolution(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: list[int],
    padding: list[int],
    dilation: list[int],
    transposed: bool,
    output_padding: list[int],
    groups: int,
    *flags: bool,
) -> torch.Tensor:
    """``aten::_convolution`` (what ``torch.jit.trace`` records for a conv layer) is the
    ``convNd`` the layer called, plus backend flags that don't change the result."""
    n = weight.dim() - 2
    if transposed:
        conv = getattr(torch.ops.aten, f"conv_transpose{n}d").input
        return conv(x, weight, bias, stride, padding, output_padding, groups, dilation)
    return getattr(torch.ops.aten, f"conv{n}d").default(
        x, weight, bias, stride, padding, dilation, groups
    )


# ops traced TorchScript calls that fx2mlx converts under their public name
DECOMPOSITIONS = {torch.ops.aten._convolution.default: _convolution}


def has_script(model: nn.Module) -> bool:
    """Whether any module in ``model``'s tree is TorchScript."""
    return any(isinstance(m, torch.jit.ScriptModule) for m in model.modules())


def script_arity(model: nn.Module, count: int) -> str | None:
    """Why ``count`` tensor inputs can't call a ScriptModule's forward: a required argument
    that is no tensor (silero-vad's ``sr: int``) must be bound; None when they can."""
    if not isinstance(model, torch.jit.ScriptModule):
        return None
    args = model.forward.schema.arguments[1:]
    sig = ", ".join(f"{a.name}: {a.type}" for a in args)
    if count > len(args):
        return f"forward({sig}) takes {len(args)} input(s), got {count} example input(s)"
    missing = [a for a in args[count:] if not a.has_default_value()]
    if not missing:
        return None
    names = ", ".join(a.name for a in missing)
    values = ", ".join(f"{a.name}=..." for a in missing)
    return (
        f"forward({sig}) needs {names} besides the {count} example input(s): bind "
        f"{'them' if len(missing) > 1 else 'it'} with fx2mlx.bind(model, {values}) (on the command"
        f" line: {' '.join('--bind ' + a.name + '=...' for a in missing)})"
    )


def written_attributes(script: torch.jit.ScriptModule) -> list[str]:
    """Attributes the forward (and every method it calls) assigns."""
    graph = script.forward.graph.copy()
    torch._C._jit_pass_inline(graph)
    return sorted({node.s("name") for node in graph.findAllNodes("prim::SetAttr")})


def outermost_scripts(model: nn.Module) -> list[torch.jit.ScriptModule]:
    """The outermost ScriptModules of the tree (their forwards run everything below)."""
    found: list[torch.jit.ScriptModule] = []
    for module in model.modules():
        if isinstance(module, torch.jit.ScriptModule) and not any(
            module in set(s.modules()) for s in found
        ):
            found.append(module)
    return found


@contextlib.contextmanager
def kept_state(model: nn.Module, warnings: list[str], stream: bool) -> Iterator[None]:
    """Restore every attribute a scripted forward assigns once the recording is done; each
    is reported (the generated code holds the values the recording read) unless ``stream``
    (``streaming.Stream`` takes them as inputs)."""
    saved: list[tuple[torch.jit.ScriptModule, str, object]] = []
    for script in outermost_scripts(model):
        names = written_attributes(script)
        for module in script.modules():
            saved += [(module, n, getattr(module, n)) for n in names if hasattr(module, n)]
        if names and not stream:
            warnings.append(
                f"TorchScript: forward assigns {', '.join(names)} (state kept between calls,"
                " e.g. a streaming model's): captured as the values they held at capture,"
                " as constants; the generated code keeps no state between calls"
            )
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def script_reads(gm: fx.GraphModule, python: set[fx.Node]) -> list[str]:
    """Value reads Python's reads didn't make (``python``: the nodes those recorded): inside
    TorchScript, or C++ turning a tensor into a number (``F.pad(x, (t, t))``)."""
    counts: dict[tuple[str, str], int] = {}
    for node in gm.graph.nodes:
        if node.target in READ_OPS and node not in python:
            key = (str(node.target).split(".")[1], _last_frame(node.meta.get("stack_trace")))
            counts[key] = counts.get(key, 0) + 1
    return [
        f"trace: aten::{name} read a tensor value ({n} time{'s' if n > 1 else ''})"
        f" {f'under {where}' if where else 'in TorchScript code'} (inside TorchScript, or a"
        " tensor given where torch takes a number), specialized to the example's: the"
        " generated code computes only what these example values do"
        for (name, where), n in counts.items()
    ]


def _last_frame(stack_trace: str | None) -> str:
    """``file:line: code`` of the innermost frame a recorded node's stack trace names."""
    lines = (stack_trace or "").strip().splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip().startswith('File "')]
    if not heads:
        return ""
    head = lines[heads[-1]].strip()  # File "path", line 12, in forward
    path, _, rest = head[len('File "') :].partition('", line ')
    if os.path.abspath(path).startswith(_HERE):
        return ""  # fx2mlx's own call into TorchScript (script_scopes, bind): no user line
    code = lines[heads[-1] + 1].strip() if heads[-1] + 1 < len(lines) else ""
    return f"{path}:{rest.split(',')[0]}: {code}"


def mirror(model: nn.Module) -> nn.Module:
    """``model`` with each ScriptModule (and each module holding one) replaced by a plain
    ``nn.Module`` of the scripted class's name, holding the same tensors under the same keys;
    a scripted ``torch.nn`` layer becomes that layer (codegen emits it as one MLX layer)."""
    made: list[tuple[nn.Module, nn.Module]] = []
    copy = _mirror(model, {}, made, root=True)
    _absent_children(made)
    return copy


def _mirror(
    model: nn.Module,
    classes: dict[str, type],
    made: list[tuple[nn.Module, nn.Module]],
    root: bool = False,
) -> nn.Module:
    if not has_script(model):
        return model
    # the root stays a class of its own (a top-level Sequential's children can't be
    # attributes of a generated class as they are)
    layer = isinstance(model, torch.jit.ScriptModule) and not root
    copy = _torch_layer(model) if layer else None
    if copy is None:
        copy = _mirror_class(model, classes)()
    share_state(copy, model, lambda child: _mirror(child, classes, made))
    made.append((copy, model))
    return copy.eval()


def _absent_children(made: list[tuple[nn.Module, nn.Module]]) -> None:
    """A submodule some instances of a class have and others hold as ``None`` (a block's
    ``downsample``) is ``None`` on the mirror too: codegen makes it an optional call."""
    children: dict[type, set[str]] = {}
    for copy, _ in made:
        children.setdefault(type(copy), set()).update(copy._modules)
    for copy, model in made:
        for name in children[type(copy)] - set(copy._modules):
            if getattr(model, name, None) is None:  # a traced module drops None attributes
                setattr(copy, name, None)


def _mirror_class(model: nn.Module, classes: dict[str, type]) -> type:
    """One class per scripted type (TorchScript numbers the variants of one Python class:
    ``___torch_mangle_3``), named after it."""
    if not isinstance(model, torch.jit.ScriptModule):
        return type(type(model).__name__, (nn.Module,), {"__module__": type(model).__module__})
    key = _MANGLE.sub("", model._c._type().qualified_name())
    if key not in classes:
        classes[key] = type(model.original_name, (nn.Module,), {"__module__": "torchscript"})
    return classes[key]


def _torch_class(script: torch.jit.ScriptModule) -> type[nn.Module] | None:
    """The ``torch.nn`` class ``script`` was scripted from (``__torch__.torch.nn.modules.
    conv.Conv1d``, maybe with a ``___torch_mangle_3`` part), if any."""
    qualified = script._c._type().qualified_name()
    if not qualified.startswith("__torch__.torch.nn.modules."):
        return None
    cls = getattr(nn, qualified.rsplit(".", 1)[-1], None)
    return cls if isinstance(cls, type) and issubclass(cls, nn.Module) else None


def _torch_layer(script: torch.jit.ScriptModule) -> nn.Module | None:
    """A fresh ``torch.nn`` layer built from ``script``'s constants, or None when its
    constructor can't be called from them or its state keys or shapes differ."""
    cls = _torch_class(script)
    if cls is None:
        return None
    if not all(hasattr(script, name) for name in getattr(cls, "__constants__", ())):
        # traced: the configuration is in the recorded op, not in attributes
        layer = traced_layer(script, cls)
        return layer if layer is not None and _same_state(layer, script) else None
    params = inspect.signature(cls.__init__).parameters.values()
    kwargs = {p.name: _init_value(script, p.name) for p in params if p.name != "self"}
    kwargs = {k: v for k, v in kwargs.items() if v is not _MISSING}
    try:
        layer = cls(**kwargs)
    except (TypeError, ValueError, RuntimeError):
        return None
    for name in _constants(cls):
        if hasattr(script, name) and not isinstance(getattr(script, name), torch.Tensor):
            object.__setattr__(layer, name, getattr(script, name))
    return layer if _same_state(layer, script) else None


_MISSING = object()
_MANGLE = re.compile(r"___torch_mangle_\d+\.")


def _init_value(script: torch.jit.ScriptModule, name: str) -> object:
    if name == "bias":  # a flag to the constructor, a tensor (or None) on the layer
        value = getattr(script, "bias", None)
        return value if isinstance(value, bool) else value is not None
    value = getattr(script, name, _MISSING) if name not in ("device", "dtype") else _MISSING
    return _MISSING if callable(value) else value  # ``modules``: a method, no constant


def _constants(cls: type) -> set[str]:
    """The non-tensor attributes ``torch.nn`` declares for TorchScript, up the class tree."""
    names: set[str] = set()
    for klass in cls.__mro__[: cls.__mro__.index(nn.Module)]:
        names.update(getattr(klass, "__constants__", ()))
        names.update(vars(klass).get("__annotations__", {}))
    return names - set(vars(nn.Module()))  # not Module's own (``_modules``, ``training``)


def _same_state(layer: nn.Module, script: torch.jit.ScriptModule) -> bool:
    def shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
        named = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        return {k: tuple(v.shape) for k, v in named}

    return shapes(layer) == shapes(script) and not list(layer.children())
