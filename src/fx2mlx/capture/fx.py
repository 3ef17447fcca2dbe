"""The second frontend: ``torch.fx.symbolic_trace``, then exported to ATen.

Symbolic tracing walks the Python ``forward`` with proxies, which succeeds on some models
that ``torch.export`` rejects; exporting the resulting straight-line ``GraphModule`` gives
the same ATen-level graph the rest of the pipeline expects. Only layers fx2mlx converts as a
whole (Conv2d, Linear, ...) stay leaves, so every other module keeps its place in
``nn_module_stack``; which those are, the caller says (``is_layer``), so that capture needs
nothing of the converters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import fx

from .dynamic import Dynamic, plan
from .export import _no_fastpath, capture_export
from .fastpath import eager_encoder_padding
from .graph import Captured

IsLayer = Callable[[torch.nn.Module], bool]
"""Whether fx2mlx converts this module as one layer (then tracing keeps it whole)."""


class _Tracer(fx.Tracer):
    def __init__(self, is_layer: IsLayer, leaves: set[int]) -> None:
        super().__init__()
        self.record_stack_traces = True
        self.is_layer = is_layer
        self.leaves = leaves  # ids of modules whose forward can't be traced with proxies

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        return self.is_layer(m) or id(m) in self.leaves


def _failing_module(exc: BaseException, root: torch.nn.Module) -> torch.nn.Module | None:
    """The innermost submodule whose forward was running when tracing failed."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, torch.nn.Module) and owner is not root:
            found = owner
        tb = tb.tb_next
    return found


def _trace(model: torch.nn.Module, is_layer: IsLayer, attempts: int = 8) -> fx.GraphModule:
    """Trace; a submodule whose Python control flow defeats proxies becomes a leaf (export
    traces it later with real shapes) and tracing starts over."""
    leaves: set[int] = set()
    for _ in range(attempts):
        tracer = _Tracer(is_layer, leaves)
        try:
            with eager_encoder_padding(), _no_fastpath():
                graph = tracer.trace(model)
            return fx.GraphModule(tracer.root, graph)
        except Exception as exc:  # noqa: BLE001 - retried with a leaf, else re-raised
            culprit = _failing_module(exc, model)
            if culprit is None or id(culprit) in leaves:
                raise
            leaves.add(id(culprit))
    raise RuntimeError("symbolic tracing kept failing inside submodules")


def _own_frame(gm: fx.GraphModule) -> None:
    """A leaf call's ops are traced later, by export: give them the leaf's own frame."""
    counts: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        stack = dict(node.meta.get("nn_module_stack") or {})
        n = counts.get(node.target, 0)
        counts[node.target] = n + 1
        key = node.target if n == 0 else f"{node.target}@{n}"
        stack[key] = (node.target, type(gm.get_submodule(node.target)))
        node.meta["nn_module_stack"] = stack


def capture_fx(
    model: torch.nn.Module, inputs: tuple, is_layer: IsLayer, dynamic: Dynamic | None = None
) -> Captured:
    """Capture ``model`` through ``torch.fx.symbolic_trace``, keeping ``is_layer`` modules whole."""
    gm = _trace(model, is_layer)
    gm.eval()
    _own_frame(gm)
    captured = capture_export(gm, inputs, dynamic or plan(model, inputs), frontend="fx")
    captured.model = model
    return captured
