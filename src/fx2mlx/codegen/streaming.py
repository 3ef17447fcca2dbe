"""The generated module of a streaming model keeps its state between calls.

The captured graph is one step of the stream (``capture/streaming.py``): the state comes in
as the last inputs and goes out as the last outputs. The top class's ``__call__`` keeps
that pure step when the state is passed, and otherwise runs it on the state the module
holds (``self._state``...; underscored, so MLX counts it in no parameters and strict
loading ignores it), storing the new state; ``reset_states()`` starts a new stream.
"""

from __future__ import annotations

import textwrap
from typing import Any

import torch

from ..capture import Captured
from .returns import output_annotation


def stream_doc(names: list[str]) -> str:
    """The top class's docstring: how the state is kept and how to pass it."""
    listed = ", ".join(names)
    text = (
        f"Keeps the state its PyTorch forward kept between calls ({listed}) as it did:"
        " ``model(x)`` continues the stream and stores the new state, ``model.reset_states()``"
        " starts a new one (zeros, the state torch's first call after a reset starts from)."
        f" ``model(x, {listed})`` runs one step on the state given and returns the outputs"
        " followed by the new state, storing nothing."
    )
    return textwrap.fill(text, width=88, subsequent_indent="    ")


def stream_view(captured: Captured, view: dict[str, Any], leaves: list[Any]) -> None:
    """Turn the top class's ``view`` (see ``emit._view``) into the stateful class."""
    count = captured.stream_state
    holders = [n for n in captured.graph.nodes if n.op == "placeholder"][-count:]
    names = [n.name for n in holders]
    kept = ", ".join(f"self._{n}" for n in names)
    given = [p.split(":")[0] for p in view["call_params"][:-count]]
    view["call_params"] = view["call_params"][:-count] + [
        f"{p} | None = None" for p in view["call_params"][-count:]
    ]
    view["body"] = [
        f"if {' and '.join(f'{n} is None' for n in names)}:  # the state this module keeps",
        f"    out, {kept} = self({', '.join([*given, kept])})",
        "    return out",
        *view["body"],
    ]
    view["init"] = [*view["init"], "self.reset_states()"]
    view["reset"] = [f"self._{n.name} = {_zeros(n.meta['val'])}" for n in holders]
    view["doc"] = stream_doc(names)
    step = captured.out_spec.children()[0]
    view["returns"] = f"{output_annotation(step, leaves[: step.num_leaves])} | {view['returns']}"


def _zeros(val: torch.Tensor) -> str:
    sizes = [s.node.hint if isinstance(s, torch.SymInt) else int(s) for s in val.shape]
    shape = f"({', '.join(map(str, sizes))}{',' if len(sizes) == 1 else ''})"
    return f"mx.zeros({shape}, dtype=mx.{str(val.dtype).replace('torch.', '')})"
