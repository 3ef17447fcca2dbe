"""Non-tensor arguments bound for capture: ``fx2mlx.bind(model, sr=16000)``.

Example inputs are tensors; a forward that also takes a Python value (silero-vad's
``forward(x, sr: int)``) is converted for one value of it, given here. Every branch on it is
specialized to that value (reported by the trace frontend). A streaming model keeps state in
attributes between calls; ``reset`` names the method that clears it, called before every
forward, so that torch runs each call from fresh state as the generated code does.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..errors import Fx2MlxError


def share_state(
    target: nn.Module, source: nn.Module, child: Callable[[nn.Module], nn.Module]
) -> None:
    """Register ``source``'s own parameters and buffers on ``target`` under the same keys
    (the same storage), and ``child(c)`` for each of its children."""
    for key, param in source.named_parameters(recurse=False):
        # TorchScript hands out plain tensors: a Parameter view of the same storage
        shared = param if isinstance(param, nn.Parameter) else nn.Parameter(param, False)
        target.register_parameter(key, shared)
    for key, buf in source.named_buffers(recurse=False):
        target.register_buffer(key, buf)
    for key, c in source.named_children():
        target.add_module(key, child(c))


class Bound(nn.Module):
    """``model`` with some keyword arguments fixed; its forward takes the tensors only.

    It holds ``model``'s parameters, buffers and submodules as its own, under the same keys
    (``model`` itself is no submodule): every frontend names the weights as ``model`` does,
    and the generated ``sanitize`` takes ``model``'s checkpoints.
    """

    def __init__(self, model: nn.Module, constants: dict[str, Any], reset: str | None) -> None:
        super().__init__()
        self.__dict__["bound_model"] = model  # not registered: its contents are, below
        self.constants = dict(constants)
        self.reset = reset
        share_state(self, model, lambda child: child)

    def forward(self, *inputs: torch.Tensor) -> Any:
        if self.reset is not None:
            getattr(self.bound_model, self.reset)()
        return self.bound_model(*inputs, **self.constants)

    def notes(self) -> list[str]:
        """What binding did, for the capture's warnings."""
        bound = ", ".join(f"{k}={v!r}" for k, v in self.constants.items())
        notes = [f"bound {bound}: the model is converted for these values only"] if bound else []
        if self.reset is not None:
            notes.append(f"{self.reset}() runs before every call: each starts from fresh state")
        return notes


def bind(model: nn.Module, *, reset: str | None = None, **constants: Any) -> Bound:
    """``model`` with its non-tensor arguments fixed (``bind(vad, sr=16000)``), to convert.

    Args:
        model: a module, TorchScript ones included.
        reset: a method of ``model`` to call before every forward (a streaming model's
            ``reset_states``), so that each call starts from fresh state.
        **constants: keyword arguments passed to every forward.
    """
    if reset is not None and not callable(getattr(model, reset, None)):
        raise Fx2MlxError(f"bind(reset={reset!r}): the model has no such method")
    name = getattr(model, "original_name", None) or type(model).__name__
    cls = type(name, (Bound,), {"__module__": type(model).__module__})
    model.eval()
    return cls(model, constants, reset).eval()


def parse_binds(specs: list[str]) -> dict[str, Any]:
    """``["sr=16000", "mode='fast'"]`` -> ``{"sr": 16000, "mode": "fast"}`` (``--bind``)."""
    out: dict[str, Any] = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            sep = ""
        if not sep or not name.strip().isidentifier():
            raise Fx2MlxError(
                f"--bind takes NAME=VALUE with a Python literal value (sr=16000), got {spec!r}"
            )
        out[name.strip()] = value
    return out
