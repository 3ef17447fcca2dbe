"""Frontends: each turns an ``nn.Module`` and example inputs into a :class:`Captured`."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

import torch

from ..errors import Fx2MlxError
from .diagnose import HINTS, check_arity, eager_failure, kind_of
from .export import capture_export
from .fx import IsLayer, capture_fx
from .graph import Captured, user_frame

FRONTENDS = ("auto", "export", "fx")

__all__ = ["Captured", "IsLayer", "capture", "FRONTENDS"]


def _describe(name: str, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    where = user_frame(exc)
    loc = f"\n      at: {where}" if where else ""
    return f"  - {name}: {type(exc).__name__}: {first[:300]}{loc}"


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


def capture(
    model: torch.nn.Module, inputs: tuple, is_layer: IsLayer, frontend: str = "auto"
) -> Captured:
    """Capture ``model`` with the chosen frontend; ``auto`` tries export, then fx.

    ``is_layer`` names the modules fx2mlx converts whole (the fx frontend keeps them leaves).
    """
    if frontend not in FRONTENDS:
        raise Fx2MlxError(f"unknown frontend {frontend!r}; choose one of {', '.join(FRONTENDS)}")
    check_arity(model, inputs)
    order = ["export", "fx"] if frontend == "auto" else [frontend]
    errors: dict[str, Exception] = {}
    for name in order:
        try:
            with _silent_torch_logs():
                if name == "export":
                    return capture_export(model, inputs)
                return capture_fx(model, inputs, is_layer)
        except Fx2MlxError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the user below
            errors[name] = exc
    raise _failure(model, inputs, errors, frontend)


def _failure(
    model: torch.nn.Module, inputs: tuple, errors: dict[str, Exception], frontend: str
) -> Fx2MlxError:
    """The error to show when every frontend failed, with the hint that fits the failure."""
    with _silent_torch_logs():
        eager = eager_failure(model, inputs)
    if eager is not None:  # not a tracing problem at all
        return eager
    kind = kind_of(list(errors.values()))
    other = "" if frontend == "auto" else "; or let fx2mlx try every frontend (--frontend auto)"
    return Fx2MlxError(
        "could not trace the model with any frontend:\n"
        + "\n".join(_describe(name, exc) for name, exc in errors.items())
        + f"\n  hint: {HINTS[kind]}{other}"
    )
