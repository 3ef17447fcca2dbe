"""Pass: rewrite ops fx2mlx can't convert into the ATen ops PyTorch defines them with.

Many ATen ops are composites (``tile``, ``rot90``, ``nanmean``, attention whose ranks MLX's
kernel refuses, ...) with a decomposition PyTorch ships. When the passes leave an op that has
no converter, or whose converter refuses the node's configuration, and PyTorch can decompose
it, the program is re-exported with that op decomposed (and then whatever decomposable op
the decomposition left unconvertible) and the passes run again. The rewrite is kept only if
fewer unconvertible nodes remain: otherwise the user gets the original op's precise reason,
not a message about some internal op of its decomposition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import torch
from torch._decomp import decomposition_table
from torch._ops import OpOverload

from ..capture import Captured
from ..capture.graph import from_exported
from ..converters.registry import Inherent
from ..errors import Unsupported
from .collect_unsupported import problem

_CIA = torch._C.DispatchKey.CompositeImplicitAutograd
_DEFAULTS = torch.export.default_decompositions()  # read-only here: membership tests
_DEPTH = 6  # decompositions chain a few levels at most (sdpa -> math -> safe softmax)


class HasProblems(Protocol):
    problems: list[Unsupported]


C = TypeVar("C", bound=HasProblems)


def _decomposable(op: OpOverload, defaults: Any) -> bool:
    return op in defaults or op in decomposition_table or op.has_kernel_for_dispatch_key(_CIA)


def _wanted(captured: Captured) -> list[OpOverload]:
    """The ops left unconvertible after the passes that PyTorch can decompose."""
    defaults, found = _DEFAULTS, []
    for node in captured.graph.nodes:
        op = node.target
        if node.op != "call_function" or not isinstance(op, OpOverload) or op in found:
            continue
        why = problem(node)
        if why is not None and not isinstance(why[0], Inherent) and _decomposable(op, defaults):
            found.append(op)
    return sorted(found, key=str)


def _decompose(program: Any, ops: set[OpOverload]) -> Any:
    table = torch.export.default_decompositions()
    for op in list(table.keys()):
        if op not in ops:
            table.pop(op)  # a CustomDecompTable keeps every op popped from it
    for op in ops:
        if op not in table and op in decomposition_table:
            table[op] = decomposition_table[op]
    return program.run_decompositions(table)


def _replace(captured: Captured, program: Any, warnings: list[str]) -> None:
    fresh = from_exported(program, captured.model, captured.frontend)
    captured.graph, captured.consts = fresh.graph, fresh.consts
    captured.input_names, captured.out_spec = fresh.input_names, fresh.out_spec
    captured.subgraphs, captured.program = fresh.subgraphs, program
    captured.warnings = list(warnings)


def _nodes(checked: HasProblems) -> int:
    return sum(p.count for p in checked.problems)


def decompose_unsupported(captured: Captured, checked: C, check: Callable[[Captured], C]) -> C:
    """Try decomposing each op ``checked`` found unconvertible; keep each rewrite that
    leaves fewer unconvertible nodes. ``check`` runs the passes on the captured graph."""
    if captured.program is None:
        return checked
    warnings, tried = list(captured.warnings), set()
    for op in _wanted(captured):
        if op in tried:
            continue
        before = _snapshot(captured)
        trial = _trial(captured, {op}, tried, check, warnings)
        if trial is not None and _nodes(trial) < _nodes(checked):
            checked = trial
        elif trial is not None:  # no better: back to the graph with the op whole
            _restore(captured, before)
    return checked


_FIELDS = ("graph", "consts", "input_names", "out_spec", "subgraphs", "program", "warnings")


def _snapshot(captured: Captured) -> dict[str, Any]:
    """The fields a trial replaces (it builds a new graph: the old one stays as it is)."""
    return {name: getattr(captured, name) for name in _FIELDS}


def _restore(captured: Captured, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(captured, name, value)


def _trial(
    captured: Captured,
    ops: set[OpOverload],
    tried: set[OpOverload],
    check: Callable[[Captured], C],
    warnings: list[str],
) -> C | None:
    """Decompose ``ops``, then what their decompositions left decomposable and unconvertible,
    and check the result (None when torch couldn't decompose)."""
    checked = None
    for _ in range(_DEPTH):
        tried |= ops
        try:
            program = _decompose(captured.program, ops)
        except Exception:  # noqa: BLE001 - torch's decomposition failed: keep what we have
            break
        _replace(captured, program, warnings)
        checked = check(captured)
        ops = set(_wanted(captured)) - tried
        if not checked.problems or not ops:
            break
    return checked
