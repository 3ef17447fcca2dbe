"""The generated ``sanitize`` method: a PyTorch state_dict -> this model's names and layouts.

It does exactly what the conversion did to the weights (the layout rules of ``weights.RULES``,
by layer type), renames what had to be renamed, and drops only keys it knows about
(BatchNorm's step counters, PyTorch keys the generated model holds no parameter for). Any
other key passes through, so strict loading names it instead of it vanishing silently.
"""

from __future__ import annotations

import torch

from ..capture import Captured
from ..folded_weights import fold_biases, fold_lines, folds
from ..meta import LAYER
from ..parametrized import SPECTRAL_NORM, WEIGHT_NORM, Reparam, reparams_of
from ..passes.collapse_layers import LayerCall
from ..precision import Precision
from ..weights import RULES
from .attrs import state_key

COUNTER = "num_batches_tracked"  # BatchNorm's step counter: MLX's BatchNorm has none
UNUSED = "in PyTorch's state_dict, never read by forward()"
UNSAVED = "buffers PyTorch doesn't save (older checkpoints may hold them)"


def renamed_keys(captured: Captured, keys: list[str]) -> dict[str, str]:
    """Torch state keys whose generated parameter path differs (renamed attributes)."""
    out = {k: state_key(captured.model, k) for k in keys}
    return {k: v for k, v in sorted(out.items()) if k != v}


def _torch_keys(captured: Captured) -> tuple[list[str], list[str]]:
    """The model's state keys (with the tensors parametrized layers compute), and its
    buffers PyTorch doesn't save (non-persistent)."""
    state = list(captured.model.state_dict())
    saved = set(state)
    unsaved = [name for name, _ in captured.model.named_buffers() if name not in saved]
    computed = [f"{p}.{r.name}" if p else r.name for p, r in _reparams(captured)]
    return state + computed + fold_biases(captured), unsaved


def _reparams(captured: Captured) -> list[tuple[str, Reparam]]:
    """(layer path, computed tensor) of every converted parametrized layer, in graph order."""
    paths = [n.meta[LAYER].path for n in captured.graph.nodes if n.op == "call_module"]
    out = []
    for path in dict.fromkeys(paths):
        out += [(path, r) for r in reparams_of(captured.module(path)) or []]
    return out


# The generated loops that recompute a parametrized layer's tensor from PyTorch's keys.
_RECOMPUTE = {
    WEIGHT_NORM: [
        "# weight_norm: weight = v * g / |v|, the norm over every axis but one (torch's",
        "# _weight_norm); these layers hold the result",
        "for key, g_key, v_key, axes in (",
        "{rows}",
        "):",
        "    g, v = weights.pop(g_key), weights.pop(v_key)",
        "    weights[key] = v * (g / mx.sqrt(mx.sum(v * v, axis=axes, keepdims=True)))",
    ],
    SPECTRAL_NORM: [
        "# spectral_norm in eval: weight = w / sigma, sigma = u . (W v), W = w as a matrix with",
        "# axis `dim` first (no power iteration); these layers hold the result",
        "for key, w_key, u_key, v_key, dim in (",
        "{rows}",
        "):",
        "    w, u, v = weights.pop(w_key), weights.pop(u_key), weights.pop(v_key)",
        "    matrix = mx.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)",
        "    weights[key] = w / mx.sum(u * (matrix @ v))",
    ],
}


def _recompute_lines(captured: Captured) -> list[str]:
    """Before the per-key loop: PyTorch's parametrization keys -> the computed tensors."""
    rows: dict[str, list[str]] = {WEIGHT_NORM: [], SPECTRAL_NORM: []}
    for path, r in _reparams(captured):
        keys = [f"{path}.{k}" if path else k for k in (r.name, *r.sources)]
        rank = captured.module(path).state_dict()[r.sources[-1]].dim()
        last = _norm_axes(r.dim, rank) if r.kind == WEIGHT_NORM else r.dim % rank
        rows[r.kind].append(f"    {(*keys, last)!r},")
    lines: list[str] = []
    for kind, template in _RECOMPUTE.items():
        if rows[kind]:
            lines += [row for t in template for row in (rows[kind] if t == "{rows}" else [t])]
    return lines


def _norm_axes(dim: int, rank: int) -> tuple[int, ...]:
    """The axes torch's ``norm_except_dim`` reduces: all but ``dim`` (all of them for -1)."""
    return tuple(a for a in range(rank) if dim == -1 or a != dim % rank)


def skipped_keys(captured: Captured, declared: list[str]) -> dict[str, list[str]]:
    """PyTorch keys the generated model holds no parameter for (in its naming), by reason:
    state keys ``forward`` never reads, and non-persistent buffers."""
    calls = [n.meta[LAYER].path for n in captured.graph.nodes if n.op == "call_module"]
    folded = [bn for _, bn in folds(captured)]  # sanitize reads them
    layers = [p for p in calls + folded if p]
    held = set(declared)

    def unheld(key: str) -> bool:
        # a converted layer holds its module's whole state_dict (see weights._layer_weights)
        in_layer = any(not p or key.startswith(f"{p}.") for p in layers)
        return key not in held and not in_layer and key.rpartition(".")[2] != COUNTER

    state, unsaved = _torch_keys(captured)
    return {
        reason: sorted(state_key(captured.model, k) for k in keys if unheld(k))
        for reason, keys in ((UNUSED, state), (UNSAVED, unsaved))
    }


def _layers(captured: Captured) -> list[tuple[str, LayerCall]]:
    return [
        (state_key(captured.model, n.meta[LAYER].path), n.meta[LAYER])
        for n in captured.graph.nodes
        if n.op == "call_module"
    ]


def _rule_condition(rule: str, param: str, layers: list[tuple[str, LayerCall]]) -> str:
    """When a key needs ``rule``: by MLX layer type if every such layer needs it, else by the
    layer's attribute name, else by listing the keys. Sorted tuples, never sets: the text must
    not depend on the hash seed."""
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
        return f"owner.rpartition('.')[2] in {tuple(names)!r} and name == {param!r}"
    keys = sorted({f"{p}.{param}" for p, _ in hits})
    return f"key in {tuple(keys)!r}"


def rule_lines(captured: Captured) -> list[str]:
    """``if <condition>: value = <MLX layout>`` for each (rule, parameter) the model needs."""
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
    captured: Captured,
    declared: list[str],
    prefix: str = "",
    precision: Precision | None = None,
    quantized: bool = False,
) -> list[str]:
    """The body of the generated ``sanitize`` (the template adds its ``def`` and docstring).

    Args:
        captured: the model after every pass.
        declared: state keys the generated classes hold outside converted layers.
        prefix: the attribute holding a top-level list (``"layers."``), or ``""``.
        precision: ``dtype=``/``quantize=``: the weights end cast, and quantized
            (``QUANTIZED``'s layers) when ``quantized``, as the conversion wrote them.
    """
    lines = _mapping_lines(captured, declared, prefix)
    dtype = precision.dtype if precision is not None else None
    if dtype is None and not quantized:
        return lines
    assert precision is not None
    if lines[-1] != "return sanitized":  # nothing mapped: start from the given weights
        lines = ["sanitized = dict(weights)"]
    return lines[:-1] + _precision_lines(precision, quantized) + ["return sanitized"]


def _precision_lines(precision: Precision, quantized: bool) -> list[str]:
    """Float weights cast to ``dtype``, then the quantized layers' weights quantized."""
    lines = []
    if precision.dtype is not None:
        mlx = {torch.float16: "mx.float16", torch.bfloat16: "mx.bfloat16"}[precision.dtype]
        lines += [
            f"# float weights in {mlx.removeprefix('mx.')}, the dtype this model computes in",
            "for key, value in sanitized.items():",
            "    if mx.issubdtype(value.dtype, mx.floating):",
            f"        sanitized[key] = value.astype({mlx})",
        ]
    if quantized:
        lines += [
            "# the QUANTIZED layers' weights as nn.QuantizedLinear/QuantizedEmbedding hold them",
            "for path in sorted(QUANTIZED):",
            '    packed = mx.quantize(sanitized[f"{path}.weight"],'
            f" {precision.group_size}, {precision.bits})",
            '    for name, value in zip(("weight", "scales", "biases"), packed):',
            '        sanitized[f"{path}.{name}"] = value',
        ]
    return lines


def _mapping_lines(captured: Captured, declared: list[str], prefix: str) -> list[str]:
    """Names and layouts: a PyTorch state_dict as this model's float weights."""
    state, unsaved = _torch_keys(captured)
    gone = tuple(f"{bn}." for _, bn in folds(captured))  # folded: popped before renaming
    renames = renamed_keys(captured, [k for k in state + unsaved if not k.startswith(gone)])
    skipped = {why: keys for why, keys in skipped_keys(captured, declared).items() if keys}
    counters = any(k.rpartition(".")[2] == COUNTER for k in state)
    rules = rule_lines(captured)
    recompute = _recompute_lines(captured) + fold_lines(captured, prefix)
    if recompute:
        recompute.insert(0, "weights = dict(weights)  # a copy: entries are replaced below")
    if not (prefix or renames or skipped or counters or rules or recompute):
        return ["return weights  # PyTorch's names and layouts are this model's already"]
    return [
        *recompute,
        *_setup(renames, skipped, any("layers.get" in line for line in rules)),
        "sanitized = {}",
        "for key, value in weights.items():",
        *_key_lines(prefix, bool(renames)),
        *_split_line(bool(rules), counters),
        *_skip_lines(counters, bool(skipped)),
        *rules,
        "    sanitized[key] = value",
        "return sanitized",
    ]


def _setup(renames: dict[str, str], skipped: dict[str, list[str]], layers: bool) -> list[str]:
    lines = [f"renamed = {renames!r}"] if renames else []
    if skipped:  # PyTorch keys this model has no parameter for, each group with its reason
        lines.append("skipped = (")
        for why, keys in skipped.items():
            lines += [f"    # {why}", *(f"    {k!r}," for k in keys)]
        lines.append(")")
    if layers:
        lines.append("layers = dict(self.named_modules())")
    return lines


def _skip_lines(counters: bool, skipped: bool) -> list[str]:
    lines = []
    if counters:
        lines.append(f"    if name == {COUNTER!r}:")
        lines.append("        continue  # BatchNorm's step counter: MLX's BatchNorm keeps none")
    if skipped:
        lines += ["    if key in skipped:", "        continue"]
    return lines


def _split_line(rules: bool, counters: bool) -> list[str]:
    if rules:
        return ['    owner, _, name = key.rpartition(".")']
    return ['    name = key.rpartition(".")[2]'] if counters else []


def _key_lines(prefix: str, renamed: bool) -> list[str]:
    lines = []
    if prefix:
        lines.append(
            f"    key = {prefix!r} + key  # the top-level list is held as self.{prefix[:-1]}"
        )
    if renamed:
        lines.append("    key = renamed.get(key, key)  # attributes MLX needs spelled differently")
    return lines
