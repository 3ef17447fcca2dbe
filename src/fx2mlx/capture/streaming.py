"""Streaming state: tensors a scripted forward keeps in attributes between calls.

silero-vad's ``forward`` ends with ``self._state = ...`` and ``self._context = ...``: each
call continues the stream the last one left. Such a model converts as one step of the
stream: :class:`Stream` takes the state as extra inputs and returns the new state after the
outputs, so capture and validation see a pure function, and the generated module keeps
the state in attributes between calls (``model(chunk)``, ``model.reset_states()``), as the
torch module does.

:func:`streaming` decides, on the example: one call from the model's current state (the
state after ``torch.jit.load`` or a reset) must leave tensors in the attributes, and a step
from zeros of those shapes must give that first call's outputs and state; the generated
``reset_states`` starts from those zeros. Otherwise the model is left as it is (its state
values captured as constants, reported by ``torchscript.kept_state``). Attributes holding
numbers (``_last_sr``) keep the values the first call left: branches on them specialize.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

from ..errors import Fx2MlxError
from .bound import Bound
from .torchscript import outermost_scripts, written_attributes

__all__ = ["Stream", "streaming"]

Slot = tuple[nn.Module, str]  # a module and the attribute holding some state


class Stream(Bound):
    """One step of a streaming model: ``forward(*inputs, *state) -> (outputs, *state)``.

    The attributes are set for the call and put back after it: the torch model is left as
    it was, whatever the capture and validation run.
    """

    def __init__(self, model: nn.Module, constants: dict[str, Any], slots: list[Slot]) -> None:
        super().__init__(model, constants, None)
        self.__dict__["slots"] = slots
        self.__dict__["steady"] = [(m, n, getattr(m, n)) for m, n in _numbers(model)]
        self.state_names = [_state_name(model, m, n) for m, n in slots]

    def forward(self, *args: torch.Tensor) -> Any:
        count = len(args) - len(self.slots)
        if count < 1:
            raise Fx2MlxError(
                f"this model keeps state between calls: a step takes its inputs followed by"
                f" the state ({', '.join(self.state_names)}), got {len(args)} tensor(s)"
            )
        saved = [(m, n, getattr(m, n)) for m, n in self.slots] + self._numbers_now()
        try:
            for (module, name), value in zip(self.slots, args[count:]):
                setattr(module, name, value)
            for module, name, value in self.steady:
                setattr(module, name, value)
            out = super().forward(*args[:count])
            return (out, *(getattr(m, n) for m, n in self.slots))
        finally:
            for module, name, value in saved:
                setattr(module, name, value)

    def _numbers_now(self) -> list[tuple[nn.Module, str, Any]]:
        return [(m, n, getattr(m, n)) for m, n, _ in self.steady]

    def notes(self) -> list[str]:
        names = ", ".join(self.state_names)
        return super().notes() + [
            f"TorchScript: forward keeps state between calls ({names}): the generated module"
            " keeps it too (model(x) continues the stream, model.reset_states() starts a new"
            " one; model(x, *state) runs one step on explicit state)"
        ]


def _slots(model: nn.Module) -> list[Slot]:
    """Every attribute a scripted forward under ``model`` assigns, on the modules that have
    it."""
    found: list[Slot] = []
    for script in outermost_scripts(model):
        names = written_attributes(script)
        found += [(m, n) for m in script.modules() for n in names if hasattr(m, n)]
    return found


def _numbers(model: nn.Module) -> list[Slot]:
    return [(m, n) for m, n in _slots(model) if not isinstance(getattr(m, n), torch.Tensor)]


def _state_name(model: nn.Module, module: nn.Module, name: str) -> str:
    """``_context`` -> ``context``; on a submodule: ``decoder_state``."""
    path = next((p for p, m in model.named_modules() if m is module), "")
    return f"{path}.{name}".strip("._").replace(".", "_").replace("__", "_")


def streaming(model: nn.Module, inputs: tuple) -> tuple[nn.Module, tuple]:
    """``model`` as a :class:`Stream` and the example inputs followed by the state one call
    leaves, when the model keeps tensor state as described above; else both unchanged."""
    inner = model.bound_model if isinstance(model, Bound) else model
    if isinstance(model, Bound) and model.reset is not None:
        return model, inputs  # reset before every call: no state kept
    slots = _slots(inner)
    if not slots:
        return model, inputs
    saved = [(m, n, getattr(m, n)) for m, n in slots]
    try:
        with torch.no_grad():
            first = model(*inputs)
        tensors = [(m, n) for m, n in slots if isinstance(getattr(m, n), torch.Tensor)]
        after = [getattr(m, n) for m, n in tensors]
        constants = model.constants if isinstance(model, Bound) else {}
        stream = _stream_class(model)(inner, constants, tensors).eval() if tensors else None
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
    if stream is None or not _starts_from_zeros(stream, inputs, saved, first, after):
        return model, inputs
    return stream, (*inputs, *(t.clone() for t in after))


def _stream_class(model: nn.Module) -> type[Stream]:
    """A :class:`Stream` named as ``model`` is (the manifest names the source model)."""
    return type(type(model).__name__, (Stream,), {"__module__": type(model).__module__})


def _starts_from_zeros(
    stream: Stream, inputs: tuple, saved: list, first: Any, after: list[torch.Tensor]
) -> bool:
    """Whether a step from zeros gives what the first call from the model's own state
    gave; the state it started from was empty or zero."""
    start = {(id(m), n): v for m, n, v in saved}
    for (module, name), value in zip(stream.slots, after):
        old = start[(id(module), name)]
        if not isinstance(old, torch.Tensor) or (old.numel() and old.shape != value.shape):
            return False
        if old.numel() and bool(old.any()):
            return False  # a non-zero start: reset_states couldn't write it as zeros
    with torch.no_grad():
        out, *state = stream(*inputs, *(torch.zeros_like(t) for t in after))
    return _same((first, after), (out, state))


def _same(a: Any, b: Any) -> bool:
    left, spec_a = pytree.tree_flatten(a)
    right, spec_b = pytree.tree_flatten(b)
    return spec_a == spec_b and all(
        torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y for x, y in zip(left, right)
    )
