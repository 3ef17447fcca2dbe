"""``fx2mlx debug``: where a conversion diverges from PyTorch.

Every module call of torch is compared with the generated module's same call
(``debug_calls``), in the order torch finished them, in torch's layout (the generated code may
hold a tensor channels-last: ``meta.LAYOUT`` says how). A call can drift only because its input
already did, so the culprit is the first divergent call holding an op that drifts on torch's
exact inputs (``debug_ops``): that module and that op are the finding.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import torch
from torch import nn
from torch.utils import _pytree as pytree

from .capture import Captured
from .codegen.attrs import segments, state_key
from .codegen.scopes import Scope, build_scopes, walk
from .compare import check_leaf, least_precise, tolerance_for
from .debug_calls import (
    Calls,
    generated_paths,
    instance_at,
    mlx_args,
    mlx_calls,
    torch_calls,
)
from .debug_lines import finding
from .debug_ops import OpProbe, Unrun, canonical, torch_values
from .debug_report import DebugResult, ModuleCheck, OpFinding
from .io_layout import ChannelsLastIO
from .layout import Perm
from .meta import LAYER, LAYOUT
from .pipeline import ListRoot
from .validate import compute_dtype


def output_layouts(root: Scope, captured: Captured) -> dict[str, list[list[Perm | None]]]:
    """The storage layouts of what each generated call returns, by torch path, call by
    call: a generated class returns its scope's outputs; a layer its node's value."""
    found: list[tuple[int, str, list[Perm | None]]] = []
    order = {n: i for i, n in enumerate(captured.graph.nodes)}
    for scope in walk(root)[1:]:
        nodes = scope.subtree_nodes()
        if nodes:
            perms = [o.meta.get(LAYOUT) for o in scope.outputs]
            found.append((max(order[n] for n in nodes), scope.path, perms))
    for node in captured.graph.nodes:
        if node.op == "call_module":
            found.append((order[node], node.meta[LAYER].path, [node.meta.get(LAYOUT)]))
    out: dict[str, list[list[Perm | None]]] = {}
    for _, path, perms in sorted(found, key=lambda f: f[0]):
        out.setdefault(path, []).append(perms)
    return out


def compare_call(
    path: str, ref: Any, got: Any, perms: list[Perm | None] | None, tol: tuple[float, float, Any]
) -> tuple[str, list[Any], str]:
    """(status, checks, note) for one call: torch's output against the generated one."""
    refs = [t for t in pytree.tree_leaves(ref) if isinstance(t, torch.Tensor)]
    outs = [a for a in pytree.tree_leaves(got) if isinstance(a, mx.array)]
    if not refs:
        return "skipped", [], "no tensor output"
    if perms is not None and len(perms) == len(outs):
        outs = [canonical(o, p) for o, p in zip(outs, perms)]
    pairs = _pairs(refs, outs)
    if not pairs:
        shapes = [tuple(o.shape) for o in outs]
        return "skipped", [], f"outputs unmatched: generated {shapes}, torch {len(refs)} tensor(s)"
    checks = [_check(path, r, o, tol) for r, o in pairs]
    if not all(c.ok for c in checks) and len({tuple(r.shape) for r in refs}) < len(refs):
        checks = [_best(path, refs, o, tol) for _, o in pairs]  # same shapes: order unknown
    # the last problem a check names is the most telling (``12 of 16 element(s) beyond ...``)
    note = "; ".join(c.problem.split("; ")[-1] for c in checks if c.problem)
    if len(pairs) < len(refs):
        note = f"{len(pairs)} of {len(refs)} outputs compared" + (f"; {note}" if note else "")
    return ("ok" if all(c.ok for c in checks) else "diverges"), checks, note


def _check(path: str, ref: torch.Tensor, out: Any, tol: tuple[float, float, Any]) -> Any:
    rtol, atol, dtype = tol
    return check_leaf(path, ref, out, tolerance_for(least_precise([ref.dtype, dtype]), rtol, atol))


def _best(path: str, refs: list[torch.Tensor], out: Any, tol: tuple[float, float, Any]) -> Any:
    """The check against the torch output of ``out``'s shape it is closest to."""
    same = [r for r in refs if tuple(r.shape) == tuple(out.shape)]
    return min((_check(path, r, out, tol) for r in same), key=lambda c: (not c.ok, c.elem))


def _pairs(refs: list[torch.Tensor], outs: list[Any]) -> list[tuple[torch.Tensor, Any]]:
    """torch's outputs and the generated ones, paired: in order when they agree in number and
    shapes; else each generated output with the one torch output of its shape (a generated
    call returns only what its caller reads, in its own order)."""
    shape = [tuple(r.shape) for r in refs]
    if len(refs) == len(outs) and all(tuple(o.shape) == s for o, s in zip(outs, shape)):
        return list(zip(refs, outs))
    return [
        (refs[shape.index(tuple(o.shape))], o) for o in outs if shape.count(tuple(o.shape)) == 1
    ]


def debug_generated(
    captured: Captured,
    generated: Any,
    source: str,
    inputs: tuple,
    rtol: float = 1e-4,
    atol: float = 1e-3,
    io_layout: ChannelsLastIO | None = None,
    run: Any = None,
) -> DebugResult:
    """Compare every module call, then locate the first divergent op (see the module doc).
    ``run``: the model as the user gave it, for a captured model that can't run itself."""
    model = captured.model
    result = DebugResult(rtol=rtol, atol=atol)
    glob = _globals(generated)  # before the calls are wrapped: the generated namespace
    expected = torch_calls(model, inputs, run)
    got = mlx_calls(generated, generated_paths(model), mlx_args(inputs, io_layout))
    root = build_scopes(captured)
    layouts = output_layouts(root, captured)
    tol = (rtol, atol, compute_dtype(model, [inputs]))
    seen: dict[str, int] = {}
    for path, ref in expected:
        k = seen[path] = seen.get(path, -1) + 1
        result.modules.append(_module_check(path, k, ref, model, generated, got, layouts, tol))
        if path == "" and io_layout:
            result.modules[-1] = _root_check(ref, got, tol, result.modules[-1], io_layout)
    if result.first is not None:
        _locate(result, captured, (generated, glob), source, root, (inputs, expected))
    return _unwrapped(result) if isinstance(model, ListRoot) else result


def _unwrapped(result: DebugResult) -> DebugResult:
    """The paths of a top-level ``nn.Sequential`` as the user knows them: the generated
    class holds it as ``self.layers`` (``pipeline.wrap_list_root``), the user's model is it."""
    result.modules = [m for m in result.modules if m.path != "layers"]
    for m in result.modules:
        m.path = m.path.removeprefix("layers.")
    if result.op is not None and result.op.module.startswith("layers."):
        result.op.module = result.op.module.removeprefix("layers.")
    return result


def _module_check(
    path: str,
    k: int,
    ref: Any,
    model: nn.Module,
    generated: Any,
    got: Calls,
    layouts: dict[str, list[list[Perm | None]]],
    tol: tuple[float, float, Any],
) -> ModuleCheck:
    module = model.get_submodule(path) if path else model
    check = ModuleCheck(path, type(module).__name__, k, "skipped")
    instance = instance_at(generated, model, path)
    if instance is not None:
        check.generated = f"{_attr_path(model, path)}: {type(instance).__name__}"
    calls = got.get(path, [])
    if k >= len(calls):
        check.note = "inlined into its caller: no generated call to compare"
        return check
    perms = layouts.get(path, [])
    perm = None if path == "" else (perms[k] if k < len(perms) else None)
    check.status, checks, check.note = compare_call(path, ref, calls[k], perm, tol)
    return _errors(check, checks)


def _errors(check: ModuleCheck, checks: list[Any]) -> ModuleCheck:
    """The call's worst errors over its outputs."""
    if checks:
        check.max_abs = max(c.max_abs for c in checks)
        check.rel = max(c.rel for c in checks)
        check.elem = max(c.elem for c in checks)
    return check


def _root_check(
    ref: Any, got: Calls, tol: tuple[float, float, Any], check: ModuleCheck, io: ChannelsLastIO
) -> ModuleCheck:
    """The model's own outputs with ``channels_last_io``: channels-last at the boundary."""
    outs = pytree.tree_leaves(io.results(got.get("", [None])[0]))
    check.status, checks, check.note = compare_call("", ref, outs, None, tol)
    return _errors(check, checks)


def _attr_path(model: nn.Module, path: str) -> str:
    return "self" + "".join(
        f"[{s}]" if s.isdigit() else f".{s}" for s in segments(state_key(model, path))
    )


def _locate(
    result: DebugResult,
    captured: Captured,
    loaded: tuple[Any, dict[str, Any]],
    source: str,
    root: Scope,
    runs: tuple[tuple, list[tuple[str, Any]]],
) -> None:
    """The culprit: the first divergent call (in finishing order) with an op that drifts on
    torch's exact inputs; a call whose ops all match only passed on a wrong input."""
    try:
        env = torch_values(captured, *runs)
    except Exception as exc:  # noqa: BLE001 - a graph torch can't rerun: say so, keep the rest
        result.notes.append(f"ops not checked: the captured graph did not run in torch ({exc})")
        return
    generated, glob = loaded
    probe = OpProbe(captured, env, glob)
    unrun = [name for name, v in env.items() if isinstance(v, Unrun)]
    if unrun:
        why = env[unrun[0]].why
        result.notes.append(f"{len(unrun)} op(s) not checked: torch could not rerun them ({why})")
    owner = {n: s for s in walk(root) for n in s.nodes}
    for check in [m for m in result.modules if m.status == "diverges"]:
        nodes = _nodes_of(root, captured, check.path, check.call)
        result.op = _first_op(probe, nodes, owner, generated, source, result)
        if result.op is not None:
            result.culprit = check
            return
        check.note = f"input already differs; {check.note}" if nodes else check.note
    result.notes.append("no single op drifts on torch's inputs: the error builds up")


def _first_op(
    probe: OpProbe,
    nodes: list[Any],
    owner: dict[Any, Scope],
    generated: Any,
    source: str,
    result: DebugResult,
) -> OpFinding | None:
    """The first of ``nodes`` whose generated code, alone, drifts from torch (or fails)."""
    for node in nodes:
        scope = owner[node]
        if node in probe.matched or node in scope.sizes or not _has_tensor(probe.env[node.name]):
            continue  # (a node an inner call's search found right needn't run again)
        instance = instance_at(generated, probe.captured.model, scope.path)
        cls = type(instance).__name__
        try:
            checks = probe.check(node, scope, instance, result.rtol, result.atol)
        except Exception as exc:  # noqa: BLE001 - a generated expression that fails is the find
            found = finding(node, scope, source, cls, [])
            found.note = f"the generated code raises {type(exc).__name__}: {exc}"
            return found
        if not all(c.ok for c in checks):
            return finding(node, scope, source, cls, checks)
        probe.matched.add(node)
    return None


def _globals(generated: Any) -> dict[str, Any]:
    """The generated module's namespace (``mx``, ``nn``, its helpers)."""
    for cls in type(generated).__mro__:
        space = getattr(vars(cls).get("__call__"), "__globals__", {})
        if str(space.get("__name__", "")).startswith("fx2mlx_generated_"):  # load_generated's
            return dict(space)
    return {"mx": mx, "nn": __import__("mlx.nn").nn}


def _nodes_of(root: Scope, captured: Captured, path: str, k: int) -> list[Any]:
    """The graph nodes of the ``k``-th call of ``path``, in graph order (a layer: its node)."""
    layers = [
        n for n in captured.graph.nodes if n.op == "call_module" and n.meta[LAYER].path == path
    ]
    if layers:
        return [layers[min(k, len(layers) - 1)]]
    order = {n: i for i, n in enumerate(captured.graph.nodes)}
    scopes = [s for s in walk(root) if s.path == path and s.subtree_nodes()]
    scopes.sort(key=lambda s: max(order[n] for n in s.subtree_nodes()))
    if not scopes:
        return []
    nodes = scopes[min(k, len(scopes) - 1)].subtree_nodes()
    return sorted(nodes, key=lambda n: order[n])


def _has_tensor(value: Any) -> bool:
    return any(isinstance(t, torch.Tensor) for t in pytree.tree_leaves(value))
