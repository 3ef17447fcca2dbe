"""The second frontend: ``torch.fx.symbolic_trace``, then exported to ATen.

Symbolic tracing walks the Python ``forward`` with proxies, which succeeds on some models
that ``torch.export`` rejects; exporting the resulting straight-line ``GraphModule`` gives
the same ATen-level graph the rest of the pipeline expects (``nn_module_stack`` survives).
"""

from __future__ import annotations

import torch
from torch import fx

from .export import capture_export
from .graph import Captured


def capture_fx(model: torch.nn.Module, inputs: tuple, dynamic_batch: bool = True) -> Captured:
    """Capture ``model`` through ``torch.fx.symbolic_trace``."""
    tracer = fx.Tracer()
    tracer.record_stack_traces = True
    graph = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, graph)
    gm.eval()
    captured = capture_export(gm, inputs, dynamic_batch, frontend="fx")
    captured.model = model
    return captured
