"""``dtype=`` and ``quantize=``: the precision the generated model computes and stores in.

``dtype`` converts a copy of the model and its float inputs cast to float16/bfloat16, so the
weights are written and the module computes in that dtype; validation still compares against
the float32 original. ``quantize`` stores the ``nn.Linear``/``nn.Embedding`` layers whose input
width the group size divides as MLX's affine quantization (``mx.quantize``: ``weight``,
``scales``, ``biases``), and the generated ``load()`` swaps those layers for
``nn.QuantizedLinear``/``nn.QuantizedEmbedding`` (``nn.quantize``) before loading.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import torch

from .capture import Captured
from .codegen.attrs import state_key
from .errors import Fx2MlxError
from .meta import LAYER
from .tensors import mlx_to_numpy, to_mlx

DTYPES: dict[str, torch.dtype] = {"float16": torch.float16, "bfloat16": torch.bfloat16}
BITS = (4, 8)
GROUP_SIZES = (32, 64, 128)  # what mx.quantize accepts for affine quantization
QUANTIZABLE = ("nn.Linear", "nn.Embedding")  # the generated layers with ``to_quantized``


@dataclass(frozen=True)
class Precision:
    """What was asked for: a compute dtype, and a quantization (``bits`` None: none)."""

    dtype: torch.dtype | None = None
    bits: int | None = None
    group_size: int = 64

    def to_json(self) -> dict[str, Any]:
        return {
            "dtype": str(self.dtype).removeprefix("torch.") if self.dtype else None,
            "quantize": (
                {"bits": self.bits, "group_size": self.group_size, "mode": "affine"}
                if self.bits
                else None
            ),
        }


def precision(dtype: Any = None, quantize: Any = None, group_size: Any = 64) -> Precision:
    """The checked options (raises :class:`Fx2MlxError` on a value MLX can't do)."""
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).removeprefix("torch.")
    if dtype is not None and dtype not in DTYPES:
        raise Fx2MlxError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if quantize is not None and (isinstance(quantize, bool) or quantize not in BITS):
        raise Fx2MlxError(f"quantize must be 4 or 8 (bits per weight), got {quantize!r}")
    if isinstance(group_size, bool) or group_size not in GROUP_SIZES:
        sizes = ", ".join(map(str, GROUP_SIZES))
        raise Fx2MlxError(f"group_size must be one of {sizes}, got {group_size!r}")
    return Precision(DTYPES[dtype] if dtype else None, quantize, int(group_size))


def cast_source(
    model: torch.nn.Module, inputs: tuple, dtype: torch.dtype | None
) -> tuple[torch.nn.Module, tuple]:
    """A copy of ``model`` with its float parameters and buffers in ``dtype``, and the float
    inputs cast likewise (integer buffers and inputs untouched); as given when ``dtype`` is
    None."""
    if dtype is None:
        return model, inputs
    try:
        cast = copy.deepcopy(model).to(dtype)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's module to copy
        raise Fx2MlxError(f"dtype={dtype}: can't copy the model to cast it ({exc})") from exc
    return cast.eval(), cast_inputs(inputs, dtype)


def cast_inputs(inputs: tuple, dtype: torch.dtype | None) -> tuple:
    """Float tensors in ``dtype``; everything else as it is."""
    if dtype is None:
        return inputs
    return tuple(
        x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs
    )


@dataclass
class QuantPlan:
    """Which generated layers are stored quantized, and which stay float and why."""

    quantized: list[str] = field(default_factory=list)  # MLX module paths
    kept: dict[str, str] = field(default_factory=dict)  # MLX module path -> why it stays float
    sources: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """MLX path -> (torch module path, whether torch stores the weight transposed)."""


def plan_quantization(captured: Captured, group_size: int) -> QuantPlan:
    """Every ``nn.Linear``/``nn.Embedding`` of the generated model whose weight's last axis
    (the input width; an embedding's dims) the group size divides; ``mx.quantize`` packs
    along that axis."""
    plan = QuantPlan()
    read = _read_directly(captured)
    for node in captured.graph.nodes:
        if node.op != "call_module" or node.meta[LAYER].ctor.fn not in QUANTIZABLE:
            continue
        layer = node.meta[LAYER]
        path = state_key(captured.model, f"{layer.path}.weight").removesuffix(".weight")
        args = dict(layer.ctor.args)
        width = args.get("input_dims", args.get("dims"))
        if path in plan.quantized or path in plan.kept:
            continue
        if layer.path in read:  # code outside the layer reads its weight (tied weights)
            plan.kept[path] = "its weight is also read outside the layer"
        elif "weight" not in captured.module(layer.path)._parameters:
            plan.kept[path] = "its weight is computed (a parametrization)"
        elif not isinstance(width, int) or width % group_size:
            plan.kept[path] = f"input width {width} is not a multiple of {group_size}"
        else:
            plan.quantized.append(path)
            plan.sources[path] = (layer.path, layer.converter.weight_fix.get("weight") is not None)
    return plan


def _read_directly(captured: Captured) -> set[str]:
    """Module paths whose tensors the graph still reads outside a layer call."""
    out: set[str] = set()
    for node in captured.graph.nodes:
        if node.op == "get_attr":
            for name in [str(node.target), *captured.aliases.get(str(node.target), [])]:
                out.add(name.rpartition(".")[0])
    return out


def quantize_weights(
    weights: dict[str, mx.array], plan: QuantPlan, bits: int, group_size: int
) -> dict[str, mx.array]:
    """``weights`` with each planned layer's ``weight`` replaced by MLX's quantized triple
    (packed ``weight``, ``scales``, ``biases``), as ``nn.QuantizedLinear`` loads it."""
    out = dict(weights)
    for path in plan.quantized:
        packed, scales, biases = mx.quantize(weights[f"{path}.weight"], group_size, bits)
        out[f"{path}.weight"], out[f"{path}.scales"], out[f"{path}.biases"] = (
            packed,
            scales,
            biases,
        )
    return out


def dequantized(model: torch.nn.Module, plan: QuantPlan, p: Precision) -> torch.nn.Module:
    """A copy of the torch model (the converted one: cast when ``dtype`` was given) whose
    quantized layers hold their own weights quantized and dequantized again, as MLX does:
    what a correct generated model computes, so validation can hold it to float tolerances.
    Built from torch's weights, not the written ones, so a wrong written weight fails."""
    assert p.bits is not None
    try:
        ref = copy.deepcopy(model)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's module to copy
        raise Fx2MlxError(f"quantize: can't copy the model for validation ({exc})") from exc
    # every value from the original weights before any is written: a tied weight (GPT-2's
    # lm_head is its wte) must not be quantized twice
    sources = [plan.sources[q] for q in plan.quantized]
    new = [_round_trip(ref.get_submodule(path).weight, flip, p) for path, flip in sources]
    for (path, _), tensor in zip(sources, new):
        with torch.no_grad():
            ref.get_submodule(path).weight.copy_(tensor)
    return ref.eval()


def _round_trip(weight: torch.Tensor, transposed: bool, p: Precision) -> torch.Tensor:
    """``weight`` quantized and dequantized by MLX, along the input width."""
    value = to_mlx(weight.t() if transposed else weight)  # MLX's (out, in) layout
    parts = mx.quantize(value, p.group_size, p.bits)
    value = mx.dequantize(*parts, group_size=p.group_size, bits=p.bits)
    tensor = torch.from_numpy(mlx_to_numpy(value)).to(weight.dtype)
    return tensor.t() if transposed else tensor
