"""Where a traced forward reads tensor values into Python: each read is a specialization.

While the trace frontend records a model running for real, ``int(t)``, ``t.item()``,
``t.tolist()``, ``bool(t)`` (``if t.sum() > 0:``), ``t.numpy()`` and ``np.asarray(t)`` return the example's
values, and whatever Python computes from them is baked into the recorded graph. A
``TorchFunctionMode`` sees each such call; the reads are grouped by the user's source line.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx
from torch.fx.experimental.proxy_tensor import get_proxy_mode
from torch.overrides import TorchFunctionMode

# tensor methods that hand a tensor's values (not its sizes) to Python
_READS = {
    "item": "item()",
    "tolist": "tolist()",
    "numpy": "numpy()",
    "__array__": "a numpy conversion",
    "__int__": "int()",
    "__float__": "float()",
    "__bool__": "bool()",
    "__index__": "an index",
    "__complex__": "complex()",
    "equal": "torch.equal()",
    "allclose": "torch.allclose()",
}
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frame() -> traceback.FrameSummary | None:
    """The innermost frame outside torch and fx2mlx's capture."""
    for fr in reversed(traceback.extract_stack()):
        path = os.path.abspath(fr.filename)
        if not (path.startswith((_TORCH_DIR, _OWN_DIR)) or fr.filename.startswith("<")):
            return fr
    return None


def _recording() -> fx.Graph | None:
    """The graph ``make_fx`` is recording into, if any."""
    mode = get_proxy_mode()
    return mode.tracer.graph if mode is not None else None


def _value_text(value: Any) -> str:
    text = repr(value.tolist() if hasattr(value, "tolist") else value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Read:
    """One source line's reads: how it read, how often, and the first value it got."""

    what: str
    line: str
    value: str
    count: int = 1

    def warning(self) -> str:
        times = f" ({self.count} times)" if self.count > 1 else ""
        where = self.line or "a line inside torch"
        return (
            f"trace: {self.what} of a tensor specialized to the example's value {self.value}"
            f"{times} at {where}; the generated code computes only what these example values do"
        )


class ValueReads(TorchFunctionMode):
    """Notes every read of tensor values while active (enter it inside the traced call)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[tuple[str, str], Read] = {}
        self.nodes: set[fx.Node] = set()  # recorded nodes a Python read created

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        what = _READS.get(getattr(func, "__name__", ""))
        if what is None:
            return func(*args, **(kwargs or {}))
        graph = _recording()
        before = len(graph.nodes) if graph is not None else 0
        out = func(*args, **(kwargs or {}))
        if graph is not None:  # the ops this read recorded: Python's, not TorchScript's
            fresh = len(graph.nodes) - before
            self.nodes.update(node for _, node in zip(range(fresh), reversed(graph.nodes)))
        self._note(what, out)
        return out

    def _note(self, what: str, value: Any) -> None:
        frame = _user_frame()
        line = f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}" if frame else ""
        key = (what, line)
        if key in self.reads:
            self.reads[key].count += 1
        else:
            self.reads[key] = Read(what, line, _value_text(value))

    def warnings(self) -> list[str]:
        return [read.warning() for read in self.reads.values()]
