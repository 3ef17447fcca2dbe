"""The conversion report: what was captured, what was assumed, what was inserted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import Unsupported


@dataclass
class OutputCheck:
    """Validation of one output leaf."""

    name: str
    shape: list[int]
    max_abs: float
    rel: float
    ok: bool


@dataclass
class Validation:
    """torch vs MLX on one or more inputs."""

    outputs: list[OutputCheck] = field(default_factory=list)
    rtol: float = 1e-4
    atol: float = 1e-3

    @property
    def ok(self) -> bool:
        return bool(self.outputs) and all(o.ok for o in self.outputs)

    @property
    def max_abs(self) -> float:
        return max((o.max_abs for o in self.outputs), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((o.rel for o in self.outputs), default=0.0)

    def table(self) -> str:
        rows = [f"  {'output':<24} {'shape':<20} {'max abs err':>12} {'rel err':>10}  ok"]
        for o in self.outputs:
            rows.append(
                f"  {o.name:<24} {str(tuple(o.shape)):<20} {o.max_abs:>12.3e}"
                f" {o.rel:>10.3e}  {'yes' if o.ok else 'NO'}"
            )
        return "\n".join(rows)


@dataclass
class Report:
    """Everything the conversion decided that a user may want to know."""

    frontend: str
    dynamic_batch: bool
    transposes: int
    layers: int
    classes: dict[str, int]
    dynamic_dims: list[str] = field(default_factory=list)
    baked_dims: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)
    validation: Validation | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.validation is not None:
            data["validation"]["ok"] = self.validation.ok
        return data
