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
from torch import fx

from .capture import Captured
from .codegen.attrs import state_key
from .passes.collapse_layers import LAYER, LayerCall


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


def sanitize_lines(captured: Captured, prefix: str = "",
                   renames: dict[str, str] | None = None) -> list[str]:
    """The body of the generated ``sanitize``: skip unknown keys, fix layouts by layer type."""
    by_rule: dict[str, set[str]] = {}
    for node in captured.graph.nodes:
        if node.op != "call_module":
            continue
        layer: LayerCall = node.meta[LAYER]
        for param, rule in layer.converter.weight_fix.items():
            by_rule.setdefault(rule, set()).add(f"{layer.converter.mlx_type}:{param}")
    lines = [
        *([f"renamed = {renames!r}"] if renames else []),
        "params = dict(tree_flatten(self.parameters()))",
        *(["layers = dict(self.named_modules())"] if by_rule else []),
        "sanitized = {}",
        "for key, value in weights.items():",
        *([f"    key = {prefix!r} + key  # the top-level list is held as self.{prefix[:-1]}"]
          if prefix else []),
        *(["    key = renamed.get(key, key)  # attributes that MLX needs spelled differently"]
          if renames else []),
        "    if key not in params:",
        "        continue  # num_batches_tracked, or weights forward() never uses",
    ]
    if by_rule:
        lines.append('    owner, _, name = key.rpartition(".")')
    for rule in sorted(by_rule):
        types = sorted({t.split(":")[0] for t in by_rule[rule]})
        names = sorted({t.split(":")[1] for t in by_rule[rule]})
        isinst = types[0] if len(types) == 1 else f"({', '.join(types)})"
        cond = f"name == {names[0]!r}" if len(names) == 1 else f"name in {tuple(names)!r}"
        lines.append(f"    if isinstance(layers.get(owner), {isinst}) and {cond}:")
        lines.append(f"        # {RULES[rule].why}")
        lines.append(f"        value = {RULES[rule].mlx_code}")
    lines += ["    sanitized[key] = value", "return sanitized"]
    return lines


def save_weights(path: str, weights: dict[str, mx.array]) -> None:
    mx.save_safetensors(path, dict(sorted(weights.items())), metadata={"format": "mlx"})


def graph_consts(graph: fx.Graph) -> list[str]:
    return [str(n.target) for n in graph.nodes if n.op == "get_attr"]
