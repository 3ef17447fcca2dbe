"""The compiler pipeline: capture -> passes -> emit -> weights."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .capture import Captured, capture
from .capture.graph import is_symbolic
from .codegen.docstring import DocSpec
from .codegen.emit import Emitted, emit
from .converters import is_layer  # importing the package fills the registry
from .errors import Fx2MlxError, Unsupported, UnsupportedError
from .passes.analyze_dynamic import analyze_dynamic
from .passes.assign_layout import assign_layout
from .passes.bake_constant_arguments import bake_constant_arguments
from .passes.causal_masks import causal_masks
from .passes.collapse_layers import collapse_layers
from .passes.collect_unsupported import collect_unsupported
from .passes.decompose_unsupported import decompose_unsupported
from .passes.fold_batchnorm import fold_batchnorm
from .passes.fuse_attention import fuse_attention
from .passes.fuse_gelu import fuse_gelu
from .passes.fuse_global_pool import fuse_global_pool
from .passes.fuse_norms import fuse_norms
from .passes.fuse_rope import fuse_rope
from .passes.grouped_kv import grouped_kv
from .passes.inline_wrappers import inline_wrappers
from .passes.normalize_graph import normalize_graph
from .passes.position_gathers import position_gathers
from .passes.simplify_graph import simplify_graph
from .passes.true_masks import true_masks
from .passes.unguard_attention import unguard_attention
from .precision import Precision, QuantPlan, plan_quantization, quantize_weights
from .progress import SILENT, Progress
from .report import BakedDim, Report
from .weights import collect_weights


class ListRoot(torch.nn.Module):
    """Holds a top-level ``nn.Sequential`` as ``self.layers``: a generated class can't have
    attributes named ``0``, ``1``... (state keys gain a ``layers.`` prefix; sanitize adds it)."""

    def __init__(self, layers: torch.nn.Module) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> object:
        return self.layers(x)


def wrap_list_root(model: torch.nn.Module) -> tuple[torch.nn.Module, str]:
    if not isinstance(model, torch.nn.Sequential):
        return model, ""
    cls = type(type(model).__name__, (ListRoot,), {"__module__": type(model).__module__})
    return cls(model).eval(), "layers."


def check_inputs(model: object, inputs: object) -> tuple:
    if not isinstance(model, torch.nn.Module):
        raise Fx2MlxError(f"expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if not isinstance(inputs, (tuple, list)) or not inputs:
        raise Fx2MlxError("example_inputs must be a tensor or a non-empty tuple of tensors")
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise Fx2MlxError(f"example input {i} is a {type(x).__name__}, not a tensor")
    # one tensor given twice would be captured as one input: each input gets its own copy
    return tuple(x.clone() if any(x is y for y in inputs[:i]) else x for i, x in enumerate(inputs))


def compile_model(
    model: torch.nn.Module,
    inputs: tuple,
    frontend: str,
    channels_last_io: bool,
    command: str | None = None,
    progress: Progress = SILENT,
    dynamic: object = None,
    widen: bool = True,
    precision: Precision | None = None,
    fold_bn: bool = False,
) -> tuple[Captured, Emitted, Report]:
    """Run every stage; raises :class:`UnsupportedError` listing all problems at once.
    ``precision`` only shows in the docstring here (quantizing is :func:`quantized`'s)."""
    model.eval()
    model, prefix = wrap_list_root(model)
    with progress.stage("capture"):
        captured = capture(model, inputs, is_layer, frontend, dynamic, widen)
    with progress.stage("passes"):
        checked, transposes = run_passes(captured, channels_last_io, fold_bn)
    with progress.stage("emit"):
        doc = DocSpec(inputs, command, captured.io_layout, precision)
        emitted = emit(captured, doc, prefix, checked.baked)
    report = Report(
        frontend=captured.frontend,
        dynamic_batch=captured.dynamic_batch,
        transposes=transposes,
        layers=len(checked.layers),
        classes={c.name: c.count for c in emitted.classes},
        dynamic_dims=dynamic_dims(captured),
        baked_dims=checked.baked,
        warnings=list(captured.warnings),
    )
    return captured, emitted, report


@dataclass
class Checked:
    """What the passes before layout found in the graph."""

    layers: list[str]  # module paths collapsed into one MLX layer each
    problems: list[Unsupported]  # every unsupported op or configuration, all at once
    baked: list[BakedDim]  # input sizes tracing wrote in as constants


def check_passes(captured: Captured) -> Checked:
    """The passes up to and including the unsupported-op check; never raises for an
    unsupported op (``fx2mlx analyze`` reports them, :func:`run_passes` raises them).
    Unconvertible ops PyTorch can decompose are decomposed and the passes run again."""
    checked = _check_once(captured)
    if checked.problems:
        checked = decompose_unsupported(captured, checked, _check_once)
    return checked


def _check_once(captured: Captured) -> Checked:
    inline_wrappers(captured)
    normalize_graph(captured)
    bake_constant_arguments(captured)
    simplify_graph(captured)
    fuse_attention(captured)
    fuse_norms(captured)
    fuse_gelu(captured)
    fuse_rope(captured)
    causal_masks(captured)
    position_gathers(captured)
    true_masks(captured)
    grouped_kv(captured)
    unguard_attention(captured)
    fuse_global_pool(captured)
    layers = collapse_layers(captured)
    problems = collect_unsupported(captured)
    return Checked(layers, problems, analyze_dynamic(captured))


def run_passes(
    captured: Captured, channels_last_io: bool, fold_bn: bool = False
) -> tuple[Checked, int]:
    """The graph passes in order: (what the checks found, transposes inserted)."""
    checked = check_passes(captured)
    if checked.problems:
        raise UnsupportedError(checked.problems)
    if fold_bn:
        fold_batchnorm(captured)
    return checked, assign_layout(captured, channels_last_io)


def dynamic_dims(captured: Captured) -> list[str]:
    """Input dimensions the generated code takes at any size (``x.shape[0]``)."""
    out = []
    for node in captured.graph.nodes:
        val = node.meta.get("val")
        if node.op == "placeholder" and isinstance(val, torch.Tensor):
            out += [f"{node.name}.shape[{d}]" for d, s in enumerate(val.shape) if is_symbolic(s)]
    return out


def compile_sound(
    model: torch.nn.Module,
    inputs: tuple,
    frontend: str,
    channels_last_io: bool,
    command: str | None = None,
    progress: Progress = SILENT,
    dynamic: object = None,
    precision: Precision | None = None,
    fold_bn: bool = False,
) -> tuple[Captured, Emitted, Report, dict, QuantPlan | None]:
    """:func:`compile_model`, the weights and what was quantized (None: nothing asked). A
    capture widened from size-1 dims (see
    ``capture/dynamic.py``) is kept only if the generated code matches torch on the example
    itself; otherwise those dims are captured static. Quantizing comes after that check."""
    args = (model, inputs, frontend, channels_last_io, command, progress, dynamic)
    captured, emitted, report = compile_model(*args, precision=precision, fold_bn=fold_bn)
    weights = weights_of(captured, emitted, progress)
    if captured.widened and not _matches(model, inputs, emitted.source, weights, captured):
        captured, emitted, report = compile_model(
            *args, widen=False, precision=precision, fold_bn=fold_bn
        )
        weights = weights_of(captured, emitted, progress)
        report.warnings.append(
            "size-1 dims kept static: the graph traced at size 2 computes something else at"
            " the example's size 1"
        )
    plan = None
    if precision is not None and precision.bits is not None:
        doc = DocSpec(inputs, command, captured.io_layout, precision)
        emitted, weights, plan = quantized(captured, emitted, weights, doc, report, progress)
    return captured, emitted, report, weights, plan


def quantized(
    captured: Captured,
    emitted: Emitted,
    weights: dict,
    doc: DocSpec,
    report: Report,
    progress: Progress = SILENT,
) -> tuple[Emitted, dict, QuantPlan]:
    """The source re-emitted with ``load()`` quantizing, and the weights quantized (the float
    source served the widening check above, which compares at float32's tolerance)."""
    assert doc.precision is not None and doc.precision.bits is not None
    bits, group = doc.precision.bits, doc.precision.group_size
    plan = plan_quantization(captured, group)
    report.quantized, report.float_layers = list(plan.quantized), dict(plan.kept)
    with progress.stage("quantize"):
        doc = replace(doc, quantized=tuple(plan.quantized), kept=len(plan.kept))
        prefix = "layers." if isinstance(captured.model, ListRoot) else ""
        emitted = emit(captured, doc, prefix, report.baked_dims)
        return emitted, quantize_weights(weights, plan, bits, group), plan


def _matches(
    model: torch.nn.Module, inputs: tuple, source: str, weights: dict, captured: Captured
) -> bool:
    """Whether the generated code gives torch's outputs on ``inputs`` (any failure: no)."""
    from .validate import validate_source

    try:
        io = captured.io_layout
        return validate_source(model, source, weights, [inputs], 1e-4, 1e-3, io).ok
    except Exception:  # noqa: BLE001 - code that fails at the example's size doesn't match
        return False


def weights_of(captured: Captured, emitted: Emitted, progress: Progress = SILENT) -> dict:
    with progress.stage("weights"):
        return collect_weights(captured, emitted.declared, progress)
