"""``fx2mlx analyze``: what converting a model involves, found without converting it.

Every frontend is tried; the first that captures the model (or the one asked for) runs through
the passes up to the unsupported-op check and, when nothing blocks it, through layout and
emission in memory, to count the generated lines that carry a baked-in input size. Weights are
not converted, nothing is validated and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from .capture import FRONTENDS, Attempt, Captured, Untraceable, attempt, untraceable
from .capture.diagnose import check_arity
from .capture.dynamic import Dynamic, plan
from .converters import is_layer, layer_for
from .errors import Fx2MlxError, Unsupported, internal_errors
from .precision import Precision, cast_source, plan_quantization, precision
from .progress import SILENT, Progress
from .report import BakedDim, noted_lines

if TYPE_CHECKING:
    from .codegen.docstring import DocSpec
    from .codegen.emit import Emitted
    from .pipeline import Checked

SCHEMA = 1
"""Version of :meth:`Analysis.to_json`'s layout; bumped when a key changes meaning or goes."""


@dataclass
class Size:
    """How many elements some tensors hold, and their bytes."""

    count: int = 0
    bytes: int = 0


@dataclass
class Tensors:
    """Parameters (or buffers): the total and the share of each dtype."""

    count: int = 0
    bytes: int = 0
    by_dtype: dict[str, Size] = field(default_factory=dict)


@dataclass
class LayerType:
    """One class of leaf layer and how fx2mlx converts it."""

    type: str  # "nn.Conv2d", or "package.module.Class" outside torch.nn
    count: int = 0
    mlx: str = ""  # the MLX layer fx2mlx maps it to; "" means op by op
    as_mlx_layer: int | None = None  # instances that became that layer (None: not captured)


@dataclass
class Frontend:
    """One frontend's try: captured, or the one-line reason and the user's line."""

    name: str
    ok: bool
    error: str = ""
    at: str = ""


@dataclass
class Generated:
    """The model.py that ``convert`` would write, generated in memory."""

    classes: dict[str, int]
    lines: int
    transposes: int
    source: str = field(default="", repr=False)  # not in to_json(): convert writes it


@dataclass
class PrecisionPlan:
    """What ``--dtype``/``--quantize`` would do: the compute dtype, and which layers would be
    stored quantized and which stay float, with why (``convert`` lists the same)."""

    dtype: str | None
    bits: int | None
    group_size: int
    weight_bytes: int  # parameters and buffers as written (after the dtype cast)
    quantized: list[str] = field(default_factory=list)  # MLX module paths
    float_layers: dict[str, str] = field(default_factory=dict)  # MLX path -> why it stays float


@dataclass
class Analysis:
    """What :func:`analyze` found; ``verdict`` sums it up, ``to_json()`` has it all."""

    model: str
    inputs: list[dict[str, Any]]
    parameters: Tensors
    buffers: Tensors
    layers: list[LayerType] = field(default_factory=list)
    frontends: list[Frontend] = field(default_factory=list)
    frontend: str | None = None  # the frontend the rest of the analysis is about
    dynamic_batch: bool | None = None
    dynamic_dims: list[str] = field(default_factory=list)  # ``input_ids.shape[1]``, ...
    capture_failure: Untraceable | None = None
    unsupported: list[Unsupported] = field(default_factory=list)
    baked_dims: list[BakedDim] = field(default_factory=list)
    flagged_lines: list[int] = field(default_factory=list)  # model.py lines with a baked size
    generated: Generated | None = None
    warnings: list[str] = field(default_factory=list)
    precision: PrecisionPlan | None = None  # with dtype= or quantize= (quantize: if it converts)

    @property
    def status(self) -> str:
        """``clean``, ``flagged`` (converts, some input sizes baked in) or ``blocked``."""
        if self.capture_failure is not None or self.unsupported:
            return "blocked"
        return "flagged" if self.flagged_lines else "clean"

    @property
    def converts(self) -> bool:
        return self.status != "blocked"

    @property
    def verdict(self) -> str:
        if self.capture_failure is not None:
            return f"blocked by capture: {self.capture_failure.headline}"
        if self.unsupported:
            ops = ", ".join(dict.fromkeys(u.op for u in self.unsupported))
            n = len(self.unsupported)
            return f"blocked by {n} unsupported op(s) or configuration(s): {ops}"
        n = len(self.flagged_lines)
        if n:
            return f"converts with {n} flagged line{'s' if n > 1 else ''} (input sizes baked in)"
        return "converts cleanly"

    def to_json(self) -> dict[str, Any]:
        """Plain data with stable keys (README.md, "fx2mlx analyze")."""
        data = {"schema": SCHEMA, **asdict(self)}
        if data["generated"] is not None:
            del data["generated"]["source"]
        data.update(status=self.status, verdict=self.verdict)
        return data


@internal_errors
def analyze(
    model: torch.nn.Module,
    example_inputs: Any,
    *,
    frontend: str = "auto",
    dynamic: Any = None,
    command: str | None = None,
    progress: Progress | None = None,
    dtype: str | torch.dtype | None = None,
    quantize: int | None = None,
    group_size: int = 64,
) -> Analysis:
    """Analyze ``model`` for conversion: sizes, layers, frontends, every blocker, baked sizes.

    Args:
        model: the PyTorch module (put in eval mode).
        example_inputs: a tensor or tuple of tensors ``model`` accepts.
        frontend: which frontend the verdict is about (``"auto"``: the first that captures
            the model, in the order export, fx, trace). Export and fx are tried either way;
            trace, the fallback that records almost anything, when asked for or when both fail.
        dynamic: dynamic input dims beyond the defaults, as :func:`fx2mlx.convert` takes.
        command: the regenerate command for the in-memory model.py's docstring, so its line
            numbers (of the flagged lines) are those ``convert`` would write.
        progress: receives each stage; silent by default.
        dtype, quantize, group_size: as :func:`fx2mlx.convert` takes them; the analysis is
            of the model cast to ``dtype``, and ``precision`` says which layers ``quantize``
            would store quantized and which stay float, and why.

    Returns:
        An :class:`Analysis`; a model no frontend captures gets one too (``capture_failure``).

    Raises:
        Fx2MlxError: bad inputs (not tensors, or not what ``forward()`` takes), an unknown
            frontend, or a dtype, bit width or group size MLX can't do.
        InternalError: a bug in fx2mlx (the original exception is its ``__cause__``).
    """
    from .codegen.docstring import DocSpec  # code generation loads only when used (as convert)
    from .pipeline import check_inputs, wrap_list_root

    inputs = check_inputs(model, example_inputs)
    asked = precision(dtype, quantize, group_size)  # bad values fail before any work
    if frontend not in FRONTENDS:
        raise Fx2MlxError(f"unknown frontend {frontend!r}; choose one of {', '.join(FRONTENDS)}")
    progress = SILENT if progress is None else progress
    model.eval()
    check_arity(wrap_list_root(model)[0], inputs)
    analysis = _static(model, inputs)
    model, inputs = cast_source(model, inputs, asked.dtype)  # what convert captures
    analysis.precision = _precision(model, asked)
    root, prefix = wrap_list_root(model)
    dims = plan(root, inputs, dynamic)
    tried = [_try(root, inputs, name, dims, progress) for name in ("export", "fx")]
    if frontend == "trace" or not any(t.captured is not None for t in tried):
        tried.append(_try(root, inputs, "trace", dims, progress))  # the fallback: when needed
    analysis.frontends = [
        Frontend(t.frontend, t.captured is not None, t.reason, t.at) for t in tried
    ]
    wanted = [t for t in tried if frontend in ("auto", t.frontend)]
    chosen = next((t.captured for t in wanted if t.captured is not None), None)
    if chosen is None:
        analysis.capture_failure = untraceable(root, inputs, wanted, frontend)
        analysis.layers = layer_types(root, None)
        return analysis
    doc = DocSpec(inputs, command, precision=asked if analysis.precision else None)
    checked = _check(analysis, chosen, doc, prefix, progress)
    analysis.layers = layer_types(root, set(checked.layers))
    return analysis


def _static(model: torch.nn.Module, inputs: tuple) -> Analysis:
    """What the model says about itself, before any tracing."""
    return Analysis(
        model=f"{type(model).__module__}.{type(model).__qualname__}",
        inputs=[{"shape": list(x.shape), "dtype": dtype_name(x.dtype)} for x in inputs],
        parameters=tensor_sizes(model.parameters()),
        buffers=tensor_sizes(model.buffers()),
    )


def _try(
    root: torch.nn.Module, inputs: tuple, name: str, dims: Dynamic, progress: Progress
) -> Attempt:
    with progress.stage(f"capture ({name})"):
        return attempt(root, inputs, is_layer, name, dims)


def _check(
    analysis: Analysis, captured: Captured, doc: DocSpec, prefix: str, progress: Progress
) -> Checked:
    """The passes on ``captured``; generate the code in memory when nothing blocks it."""
    from .codegen.emit import emit
    from .passes.assign_layout import assign_layout
    from .pipeline import check_passes, dynamic_dims

    analysis.frontend = captured.frontend
    analysis.dynamic_batch = captured.dynamic_batch
    analysis.dynamic_dims = dynamic_dims(captured)
    analysis.warnings = list(captured.warnings)
    with progress.stage("passes"):
        checked = check_passes(captured)
    analysis.unsupported, analysis.baked_dims = checked.problems, checked.baked
    if checked.problems:
        return checked
    with progress.stage("emit"):
        transposes = assign_layout(captured, False)
        emitted = emit(captured, doc, prefix, checked.baked)
    if analysis.precision is not None and analysis.precision.bits is not None:
        emitted = _quantized(analysis.precision, captured, doc, prefix, checked.baked)
    source = emitted.source
    classes = {c.name: c.count for c in emitted.classes}
    analysis.generated = Generated(classes, len(source.splitlines()), transposes, source)
    analysis.flagged_lines = sorted({n for b in checked.baked for n in noted_lines(b.note, source)})
    return checked


def _precision(model: torch.nn.Module, asked: Precision) -> PrecisionPlan | None:
    """The plan's start (None when no precision was asked for); layers come with the passes."""
    if asked.dtype is None and asked.bits is None:
        return None
    sizes = [tensor_sizes(model.parameters()), tensor_sizes(model.buffers())]
    name = dtype_name(asked.dtype) if asked.dtype is not None else None
    return PrecisionPlan(name, asked.bits, asked.group_size, sum(t.bytes for t in sizes))


def _quantized(
    found: PrecisionPlan, captured: Captured, doc: DocSpec, prefix: str, baked: list[BakedDim]
) -> Emitted:
    """Which layers would be stored quantized, and the model.py ``convert`` writes then (its
    ``load()`` quantizes, so flagged lines are numbered as in the written file)."""
    from .codegen.emit import emit

    plan = plan_quantization(captured, found.group_size)
    found.quantized, found.float_layers = list(plan.quantized), dict(plan.kept)
    doc = replace(doc, quantized=tuple(plan.quantized), kept=len(plan.kept))
    return emit(captured, doc, prefix, baked)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def tensor_sizes(tensors: Iterable[torch.Tensor]) -> Tensors:
    """Element and byte counts, in total and per dtype (tied tensors counted once)."""
    out = Tensors()
    for t in tensors:
        size = out.by_dtype.setdefault(dtype_name(t.dtype), Size())
        size.count += t.numel()
        size.bytes += t.numel() * t.element_size()
        out.count += t.numel()
        out.bytes += t.numel() * t.element_size()
    out.by_dtype = dict(sorted(out.by_dtype.items()))
    return out


def layer_types(model: torch.nn.Module, collapsed: set[str] | None) -> list[LayerType]:
    """Leaf layers by class, most frequent first: what each maps to, and (``collapsed``: the
    module paths the passes turned into MLX layers) how many instances became that layer."""
    found: dict[str, LayerType] = {}
    for path, module in leaf_layers(model):
        kind = found.setdefault(type_name(type(module)), LayerType(type_name(type(module))))
        kind.count += 1
        kind.mlx = kind.mlx or mlx_layer(module)
        if collapsed is not None:
            kind.as_mlx_layer = (kind.as_mlx_layer or 0) + (path in collapsed)
    return sorted(found.values(), key=lambda k: (-k.count, k.type))


def leaf_layers(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
    """Modules without children, and modules fx2mlx converts whole (not their children); the
    model itself only if it is such a layer (its own forward is no layer type)."""
    whole: list[str] = []
    for path, module in model.named_modules():
        if any(path.startswith(f"{w}.") or not w for w in whole):
            continue  # inside a layer converted whole
        if layer_for(module) is not None:
            whole.append(path)
            yield path, module
        elif path and not any(True for _ in module.children()):
            yield path, module


def mlx_layer(module: torch.nn.Module) -> str:
    """The MLX layer fx2mlx builds for this module, or "" where it converts it op by op."""
    conv = layer_for(module)
    ctor = conv.build(module) if conv is not None else None
    return ctor.fn if ctor is not None else ""


def type_name(cls: type) -> str:
    """``nn.Conv2d`` for torch.nn's own classes, ``package.module.Class`` otherwise."""
    if cls.__module__.startswith("torch.nn.modules."):
        return f"nn.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"
