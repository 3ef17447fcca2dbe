"""The conversion report: what was captured, what was assumed, what was inserted."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Offender:
    """One element that fails its output's check, where it sits and both values."""

    index: list[int]
    torch: float | int | bool | str
    mlx: float | int | bool | str


@dataclass
class OutputCheck:
    """Validation of one output leaf (see ``compare.py`` for the checks).

    ``max_abs`` and ``rel`` are over the finite elements; ``elem`` is the worst
    ``|mlx − torch| / (atol + rtol·|torch|)`` (≤ 1 passes; inf for an integer mismatch).
    """

    name: str
    shape: list[int]
    max_abs: float
    rel: float
    ok: bool
    dtype: str = ""  # torch's
    mlx_dtype: str = ""
    elem: float = 0.0
    rtol: float = 0.0  # the tolerance this output was held to (it follows the dtype)
    atol: float = 0.0
    nonfinite: int = 0  # NaN/inf both hold at the same places, left out of the errors
    problem: str = ""  # why it failed, in words
    worst: list[Offender] = field(default_factory=list)
    inputs: str = ""  # the input set these numbers come from (the worst one)


# What the table's columns mean and when a row passes (one line each, for the printed table).
CRITERIA = (
    "passes: dtypes equal; ints/bools exact; NaN/inf where torch has them (left out below);",
    "rel err ‖Δ‖/‖torch‖ ≤ rtol; max abs err ≤ atol·max(1, max|torch|);"
    " elem max|Δ|/(atol + rtol·|torch|) ≤ 1, atol unscaled",
)


@dataclass
class Validation:
    """torch vs MLX on one or more input sets (``input_sets`` describes each)."""

    outputs: list[OutputCheck] = field(default_factory=list)
    rtol: float = 1e-4
    atol: float = 1e-3
    input_sets: list[str] = field(default_factory=list)
    finding: str = ""  # when it fails: where the divergence starts (``Conversion.debug``)
    tolerance: dict[str, Any] = field(default_factory=dict)  # the floors applied (compare.py)
    float_error: dict[str, dict[str, float]] = field(default_factory=dict)
    """A quantized model's error against the float model, per output (reported only)."""

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
        """The input sets, the criteria, one row per output, and why each failing row failed."""
        rows = [f"  inputs {i + 1}: {s}" for i, s in enumerate(self.input_sets)]
        rows += [f"  {line}" for line in CRITERIA]
        rows.append(
            f"  {'output':<24} {'shape':<18} {'dtype':<9} {'max abs err':>11} {'rel err':>9}"
            f" {'elem':>9} {'rtol':>8} {'atol':>8}  ok"
        )
        for o in self.outputs:
            rows.append(_row(o))
            rows += _why(o)
        if self.float_error:
            rows.append("  quantization error against the float model (reported, not checked):")
            rows += [
                f"  {name:<24} rel err {e['rel']:.2e}, max abs err {e['max_abs']:.3e}"
                for name, e in self.float_error.items()
            ]
        return "\n".join(rows)


def _row(o: OutputCheck) -> str:
    dtype = o.dtype if o.ok or "dtype" not in o.problem else f"{o.mlx_dtype}≠{o.dtype}"
    elem = "exact" if o.dtype in _EXACT and o.elem == 0 else f"{o.elem:.2e}"
    return (
        f"  {o.name:<24} {str(tuple(o.shape)):<18} {dtype:<9} {o.max_abs:>11.3e} {o.rel:>9.2e}"
        f" {elem:>9} {o.rtol:>8.1e} {o.atol:>8.1e}  {'yes' if o.ok else 'NO'}"
    )


_EXACT = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


def _why(o: OutputCheck) -> list[str]:
    lines = []
    if o.nonfinite:
        lines.append(f"    {o.nonfinite} NaN/inf value(s) match torch's, left out of the errors")
    if not o.ok:
        lines.append(f"    {o.problem} (inputs: {o.inputs})" if o.inputs else f"    {o.problem}")
        for w in o.worst:
            lines.append(f"    at {tuple(w.index)}: torch {_value(w.torch)}, mlx {_value(w.mlx)}")
    return lines


def _value(v: float | int | bool | str) -> str:
    return f"{v:.7g}" if isinstance(v, float) else str(v)  # float32's digits, no more


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
    by_model: bool = False  # the model itself takes this size only (a weight, its own check)

    @property
    def note(self) -> str:
        """The comment on the generated line that uses it."""
        if self.by_model:
            return f"{self.input}.shape[{self.dim}] = {self.value}: the model takes no other"
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
    quantized: list[str] = field(default_factory=list)  # layers stored quantized (quantize=)
    float_layers: dict[str, str] = field(default_factory=dict)  # Linear/Embedding kept float: why
    shapeless: bool | None = None
    """Whether the module works under ``mx.compile(..., shapeless=True)``, run at the
    example's and a second size (None: not checked, or no dynamic dim)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.validation is not None:
            data["validation"]["ok"] = self.validation.ok
            if not self.validation.finding:
                del data["validation"]["finding"]  # only a failed validation has one
        return data


def baked_lines(baked: list[BakedDim], source: str, places: int = 3) -> list[str]:
    """One console line per baked-in input size: where it sits in ``source`` (the generated
    ``model.py``) and in the user's code."""
    groups: dict[tuple[int, str, int, int], list[BakedDim]] = {}
    for b in baked:
        groups.setdefault((b.index, b.input, b.dim, b.value), []).append(b)
    lines = []
    for (index, name, dim, value), items in sorted(groups.items()):
        if all(b.by_model for b in items):
            lines.append(f"fixed by the model: input {index} ({name}) dim {dim} = {value}")
            continue
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
