"""Pass: find every op or configuration we can't convert, before anything is emitted."""

from __future__ import annotations

import operator

import torch
from torch import fx

from ..capture import Captured
from ..converters.registry import OPS, target_name
from ..errors import Unsupported
from ..layout import relayout
from ..meta import SCOPE

_HINTS = {
    "no converter": "rewrite this part of forward() with supported ops, or register a converter"
    " for it (fx2mlx.register_op)",
}


def _where(node: fx.Node) -> tuple[str, str]:
    frames = node.meta.get(SCOPE, ())
    path = frames[-1][1] if frames else ""
    trace = [t.strip() for t in (node.meta.get("stack_trace") or "").strip().splitlines()]
    line = ""
    for i, text in enumerate(trace):  # the innermost frame outside torch, with its code
        if text.startswith("File ") and "/torch/" not in text:
            code = trace[i + 1] if i + 1 < len(trace) else ""
            line = text + (f" | {code}" if code and not code.startswith("File ") else "")
    return path, line


def problem(node: fx.Node) -> tuple[str, str] | None:
    """(reason, hint) when ``node`` can't be converted, else None."""
    if node.op != "call_function" or node.target is relayout:
        return None
    conv = OPS.get(node.target)
    if conv is None:
        return "no converter", _HINTS["no converter"]
    if conv.check is not None:
        reason = conv.check(node)
        if reason:
            return (
                reason,
                "this configuration has no exact MLX equivalent yet; change it or file an issue",
            )
    for value in (node.meta.get("val"),):
        if isinstance(value, torch.Tensor) and value.is_complex():
            return (
                "complex tensors",
                "MLX has limited complex support; keep complex math outside the model",
            )
    return None


def collect_unsupported(captured: Captured) -> list[Unsupported]:
    """All unsupported ops, grouped by (op, reason), with counts, paths and source lines."""
    found: dict[tuple[str, str], Unsupported] = {}
    for node in captured.graph.nodes:
        found_problem = problem(node)
        if found_problem is None:
            continue
        reason, hint = found_problem
        name = target_name(node.target) if node.target is not operator.getitem else "getitem"
        item = found.setdefault((name, reason), Unsupported(name, reason, hint))
        item.count += 1
        path, line = _where(node)
        if path not in item.module_paths:
            item.module_paths.append(path)
        if line and line not in item.source_lines:
            item.source_lines.append(line)
    return list(found.values())
