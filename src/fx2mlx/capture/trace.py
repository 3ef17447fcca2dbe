"""The fallback frontend: record the ATen ops the model actually runs on the example inputs.

``torch.export`` and ``torch.fx`` both fail on forwards that read tensor values into Python
(``int(lengths.max())``, ``.item()`` in a loop, ``.tolist()``). Here the model runs for real
under ``make_fx``, so every such read takes the example's value and only the tensor ops
executed are recorded: a straight-line graph, specialized to the example. Each read is a
specialization the generated code inherits, so each is reported with the user's line.

Module forward hooks keep ``nn_module_stack`` on every recorded node (one generated class
per module type, as with the other frontends); inside TorchScript, where hooks don't fire,
``script_scopes`` keeps it. The recorded graph is then exported like the
fx frontend's, so the rest of the pipeline sees the same ATen-level program; sizes the
recording baked in stay static there (export reports them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import fx
from torch.fx import traceback as fx_traceback
from torch.fx.experimental.proxy_tensor import make_fx
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

from .bound import Bound
from .dynamic import Dynamic, input_names, plan
from .export import _no_fastpath, capture_export
from .fastpath import eager_encoder_padding
from .graph import Captured
from .script_scopes import drop_markers, script_scopes
from .streaming import Stream
from .torchscript import DECOMPOSITIONS, READ_OPS, has_script, kept_state, mirror, script_reads
from .trace_reads import ValueReads

__all__ = ["capture_trace"]


class _ModuleStack:
    """Forward hooks that keep export-style ``nn_module_stack`` in the meta fx copies onto
    each node it creates (``preserve_node_meta``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        # the model's own frame, as export writes it: a node there is in the top class
        self.stack: list[dict[str, tuple[str, str]]] = [{"L__self__": ("", _qualname(model))}]
        self.calls: dict[str, int] = {}
        self.handles: list[torch.utils.hooks.RemovableHandle] = []
        for path, module in model.named_modules():
            # TorchScript calls its submodules inside the interpreter: no hooks there
            if path and not isinstance(module, torch.jit.ScriptModule):
                self.handles.append(module.register_forward_pre_hook(self._enter(path)))
                self.handles.append(module.register_forward_hook(self._leave, always_call=True))

    def key(self, path: str) -> str:
        """The frame key of a new call of the module at ``path``."""
        n = self.calls.get(path, 0)
        self.calls[path] = n + 1
        return path if n == 0 else f"{path}@{n}"  # a module called again: a new frame

    def _enter(self, path: str) -> Any:
        def hook(module: torch.nn.Module, args: Any) -> None:
            frame = {**self.stack[-1], self.key(path): (path, _qualname(module))}
            self.stack.append(frame)
            fx_traceback.current_meta["nn_module_stack"] = frame

        return hook

    def _leave(self, module: torch.nn.Module, args: Any, out: Any) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
        fx_traceback.current_meta["nn_module_stack"] = self.stack[-1]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _qualname(module: torch.nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


@contextlib.contextmanager
def _module_stack(model: torch.nn.Module) -> Iterator[None]:
    """Nodes recorded inside a submodule's forward carry its path (TorchScript's too)."""
    saved = fx_traceback.current_meta
    hooks = _ModuleStack(model)
    fx_traceback.current_meta = {"nn_module_stack": hooks.stack[0]}
    try:
        with fx_traceback.preserve_node_meta(), script_scopes(model, hooks.key):
            yield
    finally:
        hooks.remove()
        fx_traceback.current_meta = saved


def _record(
    model: torch.nn.Module, inputs: tuple, reads: ValueReads, scopes: torch.nn.Module
) -> fx.GraphModule:
    """Run ``model`` under ``make_fx``; module paths are relative to ``scopes``."""

    def run(*args: torch.Tensor) -> Any:
        with reads:
            return model(*args)

    with eager_encoder_padding(), _no_fastpath(), _module_stack(scopes), _grad_mode(scopes):
        return make_fx(
            run,
            pre_dispatch=True,
            _error_on_data_dependent_ops=False,  # real values: reads are reported instead
            record_stack_traces=True,
            decomposition_table=DECOMPOSITIONS,
        )(*inputs)


def _grad_mode(model: torch.nn.Module) -> torch.autograd.grad_mode.set_grad_enabled:
    """No autograd while recording, except in TorchScript: a scripted transformer layer
    takes its fused kernel (``_transformer_encoder_layer_fwd``) unless grad is on, and its
    fast-path switch is compiled in (``torch.backends.mha`` can't turn it off)."""
    return torch.set_grad_enabled(has_script(model))


def _state_names(model: torch.nn.Module) -> dict[int, tuple[str, torch.Tensor]]:
    """Each parameter and buffer by identity -> its first state_dict key and the tensor."""
    named = list(model.named_parameters(remove_duplicate=False))
    named += list(model.named_buffers(remove_duplicate=False))
    out: dict[int, tuple[str, torch.Tensor]] = {}
    for name, tensor in named:
        out.setdefault(id(tensor), (name, tensor))
    return out


def _rebuild(recorded: fx.GraphModule, model: torch.nn.Module) -> fx.GraphModule:
    """Constants make_fx lifted (``_param_constant0``) become the model's own parameters and
    buffers under their state_dict keys, so export names the weights as the model does."""
    known = _state_names(model)
    root: dict[str, Any] = {}
    for node in recorded.graph.nodes:
        if node.op != "get_attr":
            continue
        value = getattr(recorded, node.target)
        if id(value) in known:
            node.target, value = known[id(value)]
        root[node.target] = value
    return fx.GraphModule(root, recorded.graph)


def _drop_reads(gm: fx.GraphModule) -> None:
    """A value read leaves an op whose result nothing in the graph uses (its value went to
    Python or TorchScript): remove it and what only it used."""
    for node in reversed(list(gm.graph.nodes)):
        if node.target in READ_OPS and not node.users:
            gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()
    gm.recompile()


def _forward_names(model: torch.nn.Module, count: int) -> list[str]:
    """``forward``'s tensor parameter names, from the TorchScript schema for a script."""
    if isinstance(model, torch.jit.ScriptModule):
        names = [a.name for a in model.forward.schema.arguments[1:]]
        return (names + [f"input_{i}" for i in range(len(names), count)])[:count]
    return input_names(model, count)


def _name_inputs(gm: fx.GraphModule, model: torch.nn.Module, state: list[str]) -> None:
    """Placeholders take ``forward``'s parameter names (make_fx numbers them), then the
    names of the streaming state they stand for."""
    holders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    names = _forward_names(model, len(holders) - len(state)) + state
    for node, name in zip(holders, names):
        ident = "".join(c if c.isalnum() else "_" for c in name).strip("_") or "x"
        node._rename(ident if ident.isidentifier() else f"x_{ident}")  # unique in the graph
        node.target = node.name
    gm.recompile()


def capture_trace(
    model: torch.nn.Module, inputs: tuple, dynamic: Dynamic | None = None
) -> Captured:
    """Capture ``model`` by recording the ops it runs on ``inputs``; every read of a tensor
    value into Python is specialized to the example's and listed in ``captured.warnings``."""
    inner = model.bound_model if isinstance(model, Bound) else model  # its state, its names
    reads, notes = ValueReads(), []
    with kept_state(inner, notes, isinstance(model, Stream)):
        recorded = _record(model, inputs, reads, inner)
    notes += script_reads(recorded, reads.nodes)
    gm = _rebuild(recorded, inner)
    drop_markers(gm)
    _drop_reads(gm)
    _name_inputs(gm, inner, model.state_names if isinstance(model, Stream) else [])
    gm.eval()
    captured = capture_export(gm, inputs, dynamic or plan(model, inputs), frontend="trace")
    captured.model = mirror(inner)  # codegen reads the tree: ScriptModules as plain modules
    captured.stream_state = len(model.state_names) if isinstance(model, Stream) else 0
    _refuse_data_dependent_sizes(captured)
    captured.warnings[:0] = reads.warnings() + notes
    return captured


class DataDependentSize(RuntimeError):
    """A recorded op whose output size depends on tensor values (``nonzero``, ``x[mask]``)."""


def _refuse_data_dependent_sizes(captured: Captured) -> None:
    """Sizes computed from values (export's unbacked symbols) can't be specialized like a
    read value: the generated code would need them at run time."""
    for node in captured.graph.nodes:
        val = node.meta.get("val")
        if isinstance(val, torch.Tensor) and free_unbacked_symbols(val):
            trace = (node.meta.get("stack_trace") or "").strip().splitlines()
            where = f" at: {trace[-1].strip()}" if trace else ""
            raise DataDependentSize(
                f"{node.target} gives a data-dependent size{where}; the trace frontend"
                " specializes values read into Python, not sizes computed from tensor values"
            )
