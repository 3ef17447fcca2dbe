"""Frontends: each turns an ``nn.Module`` and example inputs into a :class:`Captured`."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import Fx2MlxError
from .bound import Bound
from .diagnose import HINTS, Untraceable, check_arity, eager_failure, kind_of
from .dynamic import Dynamic, plan
from .export import capture_export
from .fx import IsLayer, capture_fx
from .graph import Captured, user_frame
from .streaming import Stream
from .torchscript import has_script, mirror
from .trace import capture_trace

FRONTENDS = ("auto", "export", "fx", "trace")

__all__ = [
    "Attempt",
    "Captured",
    "IsLayer",
    "Untraceable",
    "attempt",
    "capture",
    "untraceable",
    "FRONTENDS",
]


@dataclass
class Attempt:
    """One frontend's try at the model: what it captured, or the exception it failed with."""

    frontend: str
    captured: Captured | None = None
    error: Exception | None = None

    @property
    def reason(self) -> str:
        """The failure in one line (``TraceError: symbolically traced variables ...``)."""
        if self.error is None:
            return ""
        lines = str(self.error).strip().splitlines()
        name = type(self.error).__name__
        return f"{name}: {lines[0][:300]}" if lines else name

    @property
    def at(self) -> str:
        """The line of the user's code where it failed (``models.py:33: if x.sum() > 0:``)."""
        return user_frame(self.error) if self.error is not None else ""


def _describe(tried: Attempt) -> list[str]:
    return [f"  - {tried.frontend}: {tried.reason}"] + (
        [f"      at: {tried.at}"] if tried.at else []
    )


@contextlib.contextmanager
def _silent_torch_logs() -> Iterator[None]:
    """Tracing failures print and log graph dumps; we report them ourselves, once."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def attempt(
    model: torch.nn.Module,
    inputs: tuple,
    is_layer: IsLayer,
    frontend: str,
    dynamic: Dynamic | None = None,
) -> Attempt:
    """Capture with one frontend (``export``, ``fx`` or ``trace``); a tracing failure is
    returned, not raised (fx2mlx's own errors still are)."""
    try:
        with _silent_torch_logs():
            if frontend == "export":
                captured = capture_export(model, inputs, dynamic)
            elif frontend == "trace":
                captured = capture_trace(model, inputs, dynamic)
            else:
                captured = capture_fx(model, inputs, is_layer, dynamic)
        captured.warnings[:0] = model.notes() if isinstance(model, Bound) else []
        captured.model = mirror(captured.model)  # codegen reads plain modules
        return Attempt(frontend, captured)
    except Fx2MlxError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported to the user by the caller
        return Attempt(frontend, error=exc)


def capture(
    model: torch.nn.Module,
    inputs: tuple,
    is_layer: IsLayer,
    frontend: str = "auto",
    dynamic: object = None,
    widen: bool = True,
) -> Captured:
    """Capture ``model`` with the chosen frontend; ``auto`` tries export, then fx, then trace
    (which specializes what the others could not follow; the warnings say why it was used).

    ``is_layer`` names the modules fx2mlx converts whole (the fx frontend keeps them leaves);
    ``dynamic`` declares dynamic input dims beyond the defaults (see :mod:`.dynamic`).
    """
    if frontend not in FRONTENDS:
        raise Fx2MlxError(f"unknown frontend {frontend!r}; choose one of {', '.join(FRONTENDS)}")
    check_arity(model, inputs)
    dims = plan(model, inputs, dynamic, widen)
    if isinstance(model, Stream) and dims.passthrough is None:  # dim 0 of a state: no batch
        dims.dims[-len(model.state_names) :] = [set() for _ in model.state_names]
    failed: list[Attempt] = []
    for name in _order(model, frontend):
        tried = attempt(model, inputs, is_layer, name, dims)
        if tried.captured is not None:
            tried.captured.warnings[:0] = [
                f"{name} used: {t.frontend} failed ({t.reason})" for t in failed
            ]
            return tried.captured
        failed.append(tried)
    raise untraceable(model, inputs, failed, frontend).error()


def _order(model: torch.nn.Module, frontend: str) -> list[str]:
    """The frontends to try; TorchScript runs in its interpreter, where only the trace
    frontend sees which module each op ran in (``script_scopes.py``)."""
    if frontend != "auto":
        return [frontend]
    inner = model.bound_model if isinstance(model, Bound) else model
    return ["trace"] if has_script(inner) else list(FRONTENDS[1:])


def untraceable(
    model: torch.nn.Module, inputs: tuple, failed: list[Attempt], frontend: str = "auto"
) -> Untraceable:
    """Why every frontend failed, with the hint that fits the failure."""
    with _silent_torch_logs():
        eager = eager_failure(model, inputs)
    if eager is not None:  # not a tracing problem at all
        return eager
    kind = kind_of([t.error for t in failed if t.error is not None])
    other = "" if frontend == "auto" else "; or let fx2mlx try every frontend (--frontend auto)"
    return Untraceable(
        kind,
        "could not trace the model with any frontend",
        HINTS[kind] + other,
        [line for tried in failed for line in _describe(tried)],
    )
