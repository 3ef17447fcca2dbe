"""What ``fx2mlx debug`` found: module checks in execution order, the first divergent module,
the first divergent op inside it, and how each is printed (a line, a report, JSON)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModuleCheck:
    """One call of one module: torch's output against the generated module's."""

    path: str  # the torch module path ('' is the model itself)
    module: str  # the torch class name
    call: int  # which call of this module (0 for the first)
    status: str  # "ok", "diverges" or "skipped"
    generated: str = ""  # the generated attribute path and class (``blocks[1]: Block``)
    max_abs: float = 0.0
    rel: float = 0.0
    elem: float = 0.0  # worst |mlx - torch| / (atol + rtol |torch|); > 1 fails
    note: str = ""  # why it diverges, or why it was skipped

    @property
    def label(self) -> str:
        name = self.path or "<model>"
        call = f" (call {self.call + 1})" if self.call else ""
        return f"{name} ({self.module}){call}"


@dataclass
class OpFinding:
    """The first op inside a module whose output drifts when given torch's exact inputs."""

    op: str  # the ATen op (``aten.softmax.int``) or the layer (``nn.Linear``)
    node: str  # the graph node's name
    module: str = ""  # the innermost module that made it (``act (Shifted)``)
    generated_line: int | None = None  # 1-based line in model.py
    generated_text: str = ""
    user_file: str = ""
    user_line: int | None = None
    user_text: str = ""
    max_abs: float = 0.0
    rel: float = 0.0
    elem: float = 0.0
    note: str = ""


@dataclass
class DebugResult:
    """Every module call compared in execution order, and what was found first."""

    modules: list[ModuleCheck] = field(default_factory=list)
    op: OpFinding | None = None
    rtol: float = 1e-4
    atol: float = 1e-3
    notes: list[str] = field(default_factory=list)  # e.g. why no op could be located
    culprit: ModuleCheck | None = None  # the divergent call holding ``op``

    @property
    def first(self) -> ModuleCheck | None:
        """The module call where the divergence starts: the one holding the first op that
        drifts on torch's inputs, else the first call (in finishing order) that drifts."""
        if self.culprit is not None:
            return self.culprit
        return next((m for m in self.modules if m.status == "diverges"), None)

    @property
    def diverges(self) -> bool:
        return self.first is not None

    def summary(self) -> str:
        """The one-line finding (``convert`` prints it when validation fails)."""
        first = self.first
        if first is None:
            return "[fx2mlx] no divergence: every compared module matches PyTorch"
        text = f"[fx2mlx] first divergence: {first.label}"
        if self.op is not None:
            inner = "" if self.op.module == first.label else f" in {self.op.module}"
            text += f", op {self.op.op}{inner}{_where(self.op)}"
            return text + f", max error {self.op.max_abs:.3g}"
        return text + f", max error {first.max_abs:.3g}"

    def to_json(self) -> dict[str, Any]:
        first = self.first
        return {
            "diverges": self.diverges,
            "summary": self.summary(),
            "first_module": asdict(first) if first is not None else None,
            "first_op": asdict(self.op) if self.op is not None else None,
            "modules": [asdict(m) for m in self.modules],  # in the order the calls finished
            "rtol": self.rtol,
            "atol": self.atol,
            "notes": list(self.notes),
        }

    def render(self) -> str:
        """The report for people: one row per module call, then the finding."""
        rows = [f"  {'module':<40} {'status':<9} {'max abs err':>11} {'elem':>9}  note"]
        for m in self.modules:
            err = f"{m.max_abs:>11.3g} {m.elem:>9.3g}" if m.status != "skipped" else " " * 21
            note = f"<- first divergence; {m.note}" if m is self.first else m.note
            rows.append(f"  {m.label[:40]:<40} {m.status:<9} {err}  {note}")
        rows += [f"  note: {n}" for n in self.notes]
        rows.append(self.summary())
        if self.op is not None and self.op.generated_text:
            rows.append(f"  model.py:{self.op.generated_line}: {self.op.generated_text}")
        if self.op is not None and self.op.user_text:
            rows.append(f"  {_short(self.op.user_file)}:{self.op.user_line}: {self.op.user_text}")
        return "\n".join(rows)


def _where(op: OpFinding) -> str:
    """`` at model.py line 57 ← modeling.py:123 "attn = softmax(...)"`` (what is known)."""
    text = f" at model.py line {op.generated_line}" if op.generated_line else ""
    if op.user_line:
        short = op.user_text if len(op.user_text) <= 60 else op.user_text[:57] + "..."
        name = op.user_file.rsplit("/", 1)[-1]
        text += f' \u2190 {name}:{op.user_line} "{short}"'
    return text


def _short(path: str) -> str:
    """``path`` relative to the working folder when it lies inside it."""
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return path if rel.startswith("..") else rel
