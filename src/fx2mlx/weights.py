"""Weights: the generated model's parameters from the torch model, in MLX layout.

Transforms are chosen by layer type (never guessed from rank), and the same table generates
the ``sanitize`` method, so a user can load any checkpoint of the architecture later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx
import numpy as np
import torch

from .capture import Captured
from .codegen.attrs import state_key
from .meta import LAYER
from .passes.collapse_layers import LayerCall


@dataclass(frozen=True)
class Rule:
    """How one kind of parameter moves from PyTorch's layout to MLX's."""

    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    mlx_code: str
    why: str


RULES: dict[str, Rule] = {
    "conv": Rule(
        lambda w: w.movedim(1, -1),
        "mx.moveaxis(value, 1, -1)",
        "PyTorch (out, in, *kernel) -> MLX (out, *kernel, in)",
    ),
    "transpose": Rule(
        lambda w: w.t(),
        "value.T",
        "stored (in, out) like Hugging Face's Conv1D; MLX's Linear wants (out, in)",
    ),
}

SKIPPED = ("num_batches_tracked",)


def _to_mx(t: torch.Tensor) -> mx.array:
    t = t.detach().cpu()
    if t.dtype == torch.float64:
        t = t.float()
    if t.dtype == torch.bfloat16:
        return mx.array(t.float().numpy()).astype(mx.bfloat16)
    return mx.array(np.ascontiguousarray(t.numpy()))


def _layer_weights(captured: Captured, layer: LayerCall) -> dict[str, torch.Tensor]:
    module = captured.module(layer.path)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in module.state_dict().items():
        if name.split(".")[-1] in SKIPPED:
            continue
        rule = layer.converter.weight_fix.get(name)
        out[f"{layer.path}.{name}"] = RULES[rule].torch_fn(tensor) if rule else tensor
    return out


def collect_weights(captured: Captured, declared: list[str]) -> dict[str, mx.array]:
    """Every array the generated model holds, by its parameter path."""
    flat: dict[str, torch.Tensor] = {}
    for node in captured.graph.nodes:
        if node.op == "call_module":
            flat.update(_layer_weights(captured, node.meta[LAYER]))
    for key in declared:
        flat.setdefault(key, captured.consts[key])
    return {state_key(captured.model, k): _to_mx(flat[k]) for k in sorted(flat)}


def renamed_keys(captured: Captured, keys: list[str]) -> dict[str, str]:
    """Torch state keys whose generated parameter path differs (renamed attributes)."""
    out = {k: state_key(captured.model, k) for k in keys}
    return {k: v for k, v in sorted(out.items()) if k != v}


def _layers(captured: Captured) -> list[tuple[str, LayerCall]]:
    return [
        (state_key(captured.model, n.meta[LAYER].path), n.meta[LAYER])
        for n in captured.graph.nodes
        if n.op == "call_module"
    ]


def _rule_condition(rule: str, param: str, layers: list[tuple[str, LayerCall]]) -> str:
    """When a key needs ``rule``: by MLX layer type if every such layer needs it, else by the
    layer's attribute name, else by listing the keys."""
    hits = [(p, layer) for p, layer in layers if layer.converter.weight_fix.get(param) == rule]
    types = sorted({layer.converter.mlx_type for _, layer in hits})
    same_type = [(p, layer) for p, layer in layers if layer.converter.mlx_type in types]
    if len(hits) == len(same_type):
        isinst = types[0] if len(types) == 1 else f"({', '.join(types)})"
        return f"isinstance(layers.get(owner), {isinst}) and name == {param!r}"
    names = sorted({p.rpartition(".")[2] for p, _ in hits})
    clash = [
        p for p, layer in same_type if (p, layer) not in hits and p.rpartition(".")[2] in names
    ]
    if not clash:
        return f"owner.rpartition('.')[2] in {set(names)!r} and name == {param!r}"
    keys = sorted(f"{p}.{param}" for p, _ in hits)
    return f"key in {set(keys)!r}"


def _rule_lines(captured: Captured) -> list[str]:
    layers = _layers(captured)
    wanted = sorted(
        {(rule, param) for _, layer in layers for param, rule in layer.converter.weight_fix.items()}
    )
    lines: list[str] = []
    for rule, param in wanted:
        lines.append(f"    if {_rule_condition(rule, param, layers)}:")
        lines.append(f"        # {RULES[rule].why}")
        lines.append(f"        value = {RULES[rule].mlx_code}")
    return lines


def sanitize_lines(
    captured: Captured, prefix: str = "", renames: dict[str, str] | None = None
) -> list[str]:
    """The body of the generated ``sanitize``: skip unknown keys, fix layouts by layer."""
    rules = _rule_lines(captured)
    uses_layers = any("layers.get" in line for line in rules)
    lines = [
        *([f"renamed = {renames!r}"] if renames else []),
        "params = dict(tree_flatten(self.parameters()))",
        *(["layers = dict(self.named_modules())"] if uses_layers else []),
        "sanitized = {}",
        "for key, value in weights.items():",
        *(
            [f"    key = {prefix!r} + key  # the top-level list is held as self.{prefix[:-1]}"]
            if prefix
            else []
        ),
        *(
            ["    key = renamed.get(key, key)  # attributes that MLX needs spelled differently"]
            if renames
            else []
        ),
        "    if key not in params:",
        "        continue  # num_batches_tracked, or weights forward() never uses",
        *(['    owner, _, name = key.rpartition(".")'] if rules else []),
        *rules,
        "    sanitized[key] = value",
        "return sanitized",
    ]
    return lines


def save_weights(path: str, weights: dict[str, mx.array]) -> None:
    mx.save_safetensors(path, dict(sorted(weights.items())), metadata={"format": "mlx"})
