"""Errors fx2mlx raises for the user: each message starts with ``[fx2mlx]``."""

from __future__ import annotations

from dataclasses import dataclass, field


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
        super().__init__("\n".join(lines))
