"""The conversion report: what was captured, what was assumed, what was inserted."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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
class BakedDim:
    """A size tracing wrote into the code as a constant although it came from an input."""

    input: str  # the input's name in the generated code, e.g. "tokens"
    index: int  # its position among forward's inputs
    dim: int
    value: int
    op: str  # the ATen op that took the size, e.g. "view"
    module: str  # module path of that op ("<top>" for the model itself)
    source: str = ""  # the user's line that produced it, "models.py:40"
    derived: int | None = None  # the constant written, when computed from the size (16 // 2)

    @property
    def note(self) -> str:
        """The comment on the generated line that uses it."""
        if self.derived is not None and self.derived != self.value:
            return f"{self.derived} from {self.input}.shape[{self.dim}] = {self.value} when traced"
        return f"{self.value} = {self.input}.shape[{self.dim}] when traced"

    def __str__(self) -> str:
        return f"{self.op} in {self.module}: {self.note}"


@dataclass
class Report:
    """Everything the conversion decided that a user may want to know."""

    frontend: str
    dynamic_batch: bool
    transposes: int
    layers: int
    classes: dict[str, int]
    dynamic_dims: list[str] = field(default_factory=list)
    baked_dims: list[BakedDim] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    validation: Validation | None = None
    shapeless: bool | None = None
    """Whether the module works under ``mx.compile(..., shapeless=True)``, run at the
    example's and a second size (None: not checked, or no dynamic dim)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.validation is not None:
            data["validation"]["ok"] = self.validation.ok
        return data


def baked_lines(baked: list[BakedDim], source: str, places: int = 3) -> list[str]:
    """One console line per baked-in input size: where it sits in ``source`` (the generated
    ``model.py``) and in the user's code."""
    groups: dict[tuple[int, str, int, int], list[BakedDim]] = {}
    for b in baked:
        groups.setdefault((b.index, b.input, b.dim, b.value), []).append(b)
    lines = []
    for (index, name, dim, value), items in sorted(groups.items()):
        text = f"baked in: input {index} ({name}) dim {dim} = {value}"
        at = sorted({n for note in {b.note for b in items} for n in noted_lines(note, source)})
        if at:
            text += f", model.py {'lines' if len(at) > 1 else 'line'} {_few(at, places)}"
        users = sorted({Path(b.source).name for b in items if b.source})
        if users:
            text += f", from {_few(users, places)}"
        if any(b.derived is not None for b in items):  # the probe ran the model at other sizes
            text += f"; the model takes other sizes: --dynamic {name}:{dim}"
        lines.append(text)
    return lines


def noted_lines(note: str, source: str) -> list[int]:
    """Lines of ``source`` commented with ``note`` (the pass writes a baked-in size's note on
    each line that uses it)."""
    pattern = re.compile(rf"#.*(?<!\d){re.escape(note)}")
    return [i for i, line in enumerate(source.splitlines(), 1) if pattern.search(line)]


def _few(items: list[Any], limit: int) -> str:
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(str(x) for x in items[:limit]) + more
