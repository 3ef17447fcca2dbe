"""``fx2mlx analyze``'s text report: one section per question, the verdict last."""

from __future__ import annotations

from .analyze import Analysis, LayerType, Tensors
from .errors import EXTENDING
from .report import baked_lines

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(n)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _tensors(t: Tensors) -> str:
    if not t.count:
        return "none"
    parts = [f"{d} {s.count:,} ({human_bytes(s.bytes)})" for d, s in t.by_dtype.items()]
    return f"{t.count:,} ({human_bytes(t.bytes)}): " + ", ".join(parts)


def _layer(kind: LayerType, width: int) -> str:
    how = kind.mlx or "op by op"
    if kind.mlx and kind.as_mlx_layer is not None and kind.as_mlx_layer < kind.count:
        how += f" ({kind.as_mlx_layer} of {kind.count}; the rest op by op)"
    return f"  {kind.type:<{width}} {kind.count:>5}  -> {how}"


def _layers(a: Analysis) -> list[str]:
    total = sum(k.count for k in a.layers)
    lines = [f"layers: {total} leaf layer(s) of {len(a.layers)} type(s)"]
    width = max((len(k.type) for k in a.layers), default=0)
    return lines + [_layer(k, width) for k in a.layers]


def _frontends(a: Analysis) -> list[str]:
    lines = ["frontends:"]
    for f in a.frontends:
        used = " (analyzed below)" if f.name == a.frontend else ""
        lines.append(f"  {f.name:<7}{'captures the model' + used if f.ok else 'fails: ' + f.error}")
        if f.at:
            lines.append(f"  {'':<7}at {f.at}")
    return lines


def _unsupported(a: Analysis) -> list[str]:
    if a.frontend is None:
        return []
    if not a.unsupported:
        return ["unsupported: none"]
    lines = [f"unsupported: {len(a.unsupported)} op(s) or configuration(s)"]
    for item in a.unsupported:
        lines.append(f"  - {item.op} x{item.count}: {item.reason}")
        lines.append(f"      in module: {', '.join(p or '<top>' for p in item.module_paths)}")
        lines += [f"      at: {src}" for src in item.source_lines]
    hints = dict.fromkeys(item.hint for item in a.unsupported)  # the same hint once
    return lines + [f"  hint: {hint}" for hint in hints] + [f"  {EXTENDING}"]


def _baked(a: Analysis) -> list[str]:
    if a.frontend is None:
        return []
    source = a.generated.source if a.generated is not None else ""
    traced = [b for b in a.baked_dims if not b.by_model]
    fixed = [b for b in a.baked_dims if b.by_model]
    lines = ["baked-in input sizes: none"]
    if traced:
        lines = ["baked-in input sizes (each commented on its generated line):"] + [
            f"  {line.removeprefix('baked in: ')}" for line in baked_lines(traced, source)
        ]
    if fixed:  # checked at the top of __call__, as the model refuses other sizes itself
        lines += ["input sizes the model fixes (model.py refuses others):"] + [
            f"  {line.removeprefix('fixed by the model: ')}" for line in baked_lines(fixed, "")
        ]
    return lines


def _generated(a: Analysis) -> list[str]:
    g = a.generated
    if g is None:
        return []
    at = f", flagged: {', '.join(map(str, a.flagged_lines))}" if a.flagged_lines else ""
    return [
        f"model.py (in memory, not written): {g.lines} lines, {len(g.classes)} class(es),"
        f" {g.transposes} transpose(s){at}"
    ]


def _precision(a: Analysis) -> list[str]:
    """What --dtype/--quantize would do; the layers staying float with convert's reasons."""
    p = a.precision
    if p is None:
        return []
    size = human_bytes(p.weight_bytes)
    lines = (
        [
            f"precision: weights and compute in {p.dtype} ({size} of weights before any"
            " quantizing)"
        ]
        if p.dtype
        else []
    )
    if p.bits is None:
        return lines
    how = f"quantized ({p.bits} bits, groups of {p.group_size}):"
    if a.generated is None:  # the passes decide which layers exist; they did not finish
        return lines + [f"{how} not planned, the model does not convert"]
    names = f": {', '.join(p.quantized)}" if p.quantized else ""
    lines.append(f"{how} {len(p.quantized)} layer(s){names}")
    lines.append(f"stays float: {len(p.float_layers)} layer(s)")
    return lines + [f"  {path} ({why})" for path, why in p.float_layers.items()]


def _blocked(a: Analysis) -> list[str]:
    failure = a.capture_failure
    if failure is None:
        return []
    details = failure.details if failure.kind == "model" else []  # else: as under frontends
    return [*details, f"  hint: {failure.hint}"]


def render(a: Analysis) -> str:
    """The whole report, ending with the verdict line."""
    shapes = ", ".join(f"{tuple(i['shape'])} {i['dtype']}" for i in a.inputs)
    dynamic = {True: ", batch dimension dynamic", False: ", batch dimension static", None: ""}
    free = [d for d in a.dynamic_dims if not d.endswith(".shape[0]")]
    head = [
        f"model: {a.model}",
        f"inputs: {shapes}{dynamic[a.dynamic_batch]}"
        + (f", any size: {', '.join(free)}" if free else ""),
        f"parameters: {_tensors(a.parameters)}",
        f"buffers: {_tensors(a.buffers)}",
    ]
    sections = [head, _layers(a), _frontends(a), _unsupported(a), _baked(a), _precision(a)]
    sections.append(_generated(a))
    sections.append([f"warning: {w}" for w in a.warnings])
    body = "\n\n".join("\n".join(s) for s in sections if s)
    verdict = "\n".join([f"verdict: {a.verdict}", *_blocked(a)])
    return f"{body}\n\n{verdict}"
