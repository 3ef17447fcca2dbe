"""Errors fx2mlx raises for the user: each message starts with ``[fx2mlx]``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

EXTENDING = (
    'to convert an op or a layer yourself, register a converter: see "Extending fx2mlx" in'
    " fx2mlx's README.md (conventions: docs/contributing-converters.md)"
)


class Fx2MlxError(Exception):
    """A problem with the user's model, target or options (CLI exit code 2)."""

    def __init__(self, message: str) -> None:
        if not message.startswith("[fx2mlx]"):
            message = f"[fx2mlx] {message}"
        super().__init__(message)


@dataclass
class Unsupported:
    """One unsupported op or configuration, possibly seen at several places."""

    op: str
    reason: str
    hint: str
    module_paths: list[str] = field(default_factory=list)
    source_lines: list[str] = field(default_factory=list)
    count: int = 0


class UnsupportedError(Fx2MlxError):
    """Raised once with every unsupported op in the model, before anything is written."""

    def __init__(self, items: list[Unsupported]) -> None:
        self.items = items
        lines = [f"[fx2mlx] {len(items)} unsupported op(s) or configuration(s) in this model:"]
        for item in items:
            where = ", ".join(p or "<top>" for p in item.module_paths[:3])
            more = "" if len(item.module_paths) <= 3 else f" (+{len(item.module_paths) - 3} more)"
            lines.append(f"  - {item.op} x{item.count}: {item.reason}")
            lines.append(f"      in module: {where}{more}")
            for src in item.source_lines[:2]:
                lines.append(f"      at: {src}")
            lines.append(f"      hint: {item.hint}")
        lines.append(f"  {EXTENDING}")
        super().__init__("\n".join(lines))


class InternalError(Exception):
    """A bug in fx2mlx, not in the model or the options; the original exception is its
    ``__cause__``. Deliberately not an :class:`Fx2MlxError`: code that sorts failures into
    "the model is unsupported" and "fx2mlx crashed" must never count a crash as the former."""


def internal_message(exc: BaseException) -> str:
    """One line: ``[fx2mlx] internal error: KeyError: 'x'`` (the first line of the message)."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return f"[fx2mlx] internal error: {what}"


def internal_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator for the public API: an unexpected exception inside ``fn`` becomes an
    :class:`InternalError`; fx2mlx's own errors and interrupts pass through unchanged."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (Fx2MlxError, InternalError):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: reported as one, cause attached
            # its traceback reaches down to where the bug raised, for tools that look there
            raise InternalError(internal_message(exc)).with_traceback(exc.__traceback__) from exc

    return wrapper
