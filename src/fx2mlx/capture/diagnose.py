"""Why capture failed, in the user's terms: each kind of failure gets the hint that fits it.

Kinds: the example inputs don't fit ``forward``'s signature (checked before tracing); the model
itself fails on the inputs (an eager run fails too); ``forward`` branches on tensor values;
anything else tracing can't follow (numpy, Python-side state).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch

from ..errors import Fx2MlxError
from .graph import user_frame
from .torchscript import script_arity

_DATA_DEPENDENT_TYPES = {"GuardOnDataDependentSymNode", "DataDependentOutputException"}
_DATA_DEPENDENT_TEXT = (
    "data-dependent",
    "cannot be used as inputs to control flow",
    "'Proxy'",
    "Proxy object",
)
HINTS = {
    "control_flow": "forward() branches or loops on tensor values (`if x.sum() > 0`,"
    " `range(int(n))`, `.item()`), which tracing can't follow: compute both branches and pick"
    " with torch.where, or move the decision out of the model",
    "python": "forward() runs on these inputs but could not be traced: keep it to torch"
    " operations (no numpy, .tolist(), printing or Python-side state), or try each frontend"
    " alone (--frontend export, --frontend fx, --frontend trace) to see its own error",
    "model": "the example inputs don't fit the model: check their shapes and dtypes"
    " (--input-shape, --input-dtype; one of each per input, in forward()'s order)",
}


@dataclass
class Untraceable:
    """Why no frontend captured a model: what the command line prints, in parts."""

    kind: str  # a key of HINTS: "model", "control_flow" or "python"
    headline: str  # "could not trace the model with any frontend"
    hint: str
    details: list[str] = field(default_factory=list)  # lines: each frontend's error, or the model's

    def error(self) -> Fx2MlxError:
        return Fx2MlxError("\n".join([f"{self.headline}:", *self.details, f"  hint: {self.hint}"]))


def check_arity(model: torch.nn.Module, inputs: tuple) -> None:
    """Raise before tracing when the number of example inputs doesn't fit ``forward``."""
    script = script_arity(model, len(inputs))
    if script is not None:
        raise Fx2MlxError(script)
    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):  # a builtin or C forward: let tracing find out
        return
    try:
        sig.bind(*inputs)
    except TypeError as exc:
        names = ", ".join(p.name for p in sig.parameters.values())
        raise Fx2MlxError(
            f"forward({names}) takes {_takes(sig)}, got {len(inputs)} example input(s): {exc}\n"
            "  hint: give one example input per argument of forward(), in order (on the"
            " command line: one --input-shape per input)"
        ) from exc


def _takes(sig: inspect.Signature) -> str:
    """``'2 inputs'``, ``'1 to 3 inputs'`` or ``'at least 1 input'``."""
    kinds = [
        p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    low = sum(1 for p in kinds if p.default is p.empty)
    if any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
        return f"at least {low} input{'s' if low != 1 else ''}"
    high = len(kinds)
    return f"{low} input{'s' if low != 1 else ''}" if low == high else f"{low} to {high} inputs"


def kind_of(errors: list[BaseException]) -> str:
    """``control_flow`` if any frontend hit a data-dependent branch, else ``python``."""
    for exc in errors:
        text = f"{type(exc).__name__}: {exc}"
        if type(exc).__name__ in _DATA_DEPENDENT_TYPES or any(
            marker in text for marker in _DATA_DEPENDENT_TEXT
        ):
            return "control_flow"
    return "python"


def eager_failure(model: torch.nn.Module, inputs: tuple) -> Untraceable | None:
    """The error the model raises on ``inputs`` without tracing, if any."""
    try:
        with torch.no_grad():
            model(*inputs)
    except Exception as exc:  # noqa: BLE001 - the model's own error, reported to the user
        lines = str(exc).strip().splitlines()
        where = user_frame(exc)
        first = lines[0][:300] if lines else ""
        details = [f"  {type(exc).__name__}: {first}"] + ([f"  at: {where}"] if where else [])
        headline = "the model fails on these example inputs even without tracing"
        return Untraceable("model", headline, HINTS["model"], details)
    return None
