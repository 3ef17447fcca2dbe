"""``fx2mlx debug``: where a conversion diverges from PyTorch.

Torch runs with a forward hook on every module; the generated model runs with every module
instance's ``__call__`` recorded. Calls are matched by module path (the generated attribute
paths are torch's, renamed as ``codegen/attrs.py`` renames them) and call by call in order, and
compared in the order torch finished them, so the first divergent call is the innermost one
that went wrong first. Inside it, ``debug_ops`` finds the first op whose output drifts.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import torch
from torch import nn
from torch.utils import _pytree as pytree

from .capture import Captured
from .codegen.attrs import attr_name, segments, state_key
from .codegen.scopes import Scope, build_scopes, walk
from .compare import check_leaf, least_precise, tolerance_for
from .debug_ops import OpProbe, canonical, finding, torch_values
from .debug_report import DebugResult, ModuleCheck, OpFinding
from .layout import Perm
from .meta import LAYER, LAYOUT
from .passes.collapse_layers import is_list
from .tensors import to_mlx
from .validate import compute_dtype

Calls = dict[str, list[Any]]  # module path -> its outputs, call by call


def torch_calls(model: nn.Module, inputs: tuple) -> list[tuple[str, Any]]:
    """(path, output) of every module call, in the order the calls finished."""
    log: list[tuple[str, Any]] = []

    def hook(path: str) -> Any:
        def record(module: nn.Module, args: Any, out: Any) -> None:
            # a copy: a later in-place op (``relu_``) must not change what was recorded
            log.append((path, pytree.tree_map(_clone, out)))

        return record

    handles = [m.register_forward_hook(hook(p)) for p, m in model.named_modules()]
    try:
        with torch.no_grad():
            model(*(x.clone() if isinstance(x, torch.Tensor) else x for x in inputs))
    finally:
        for handle in handles:
            handle.remove()
    return log


def _clone(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def mlx_calls(generated: Any, paths: dict[str, str], args: list[Any]) -> Calls:
    """Each generated module's outputs by torch path, call by call (``paths``: generated
    path -> torch path)."""
    calls: Calls = {}
    for gpath, module in generated.named_modules():
        if gpath in paths:
            _record(module, paths[gpath], calls)
    out = generated(*args)
    mx.eval(out, [v for outs in calls.values() for v in outs])
    return calls


def _record(module: Any, path: str, calls: Calls) -> None:
    """Record ``module``'s calls (special methods are looked up on the type: the instance
    gets a subclass of its own)."""
    base = type(module)

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = base.__call__(self, *args, **kwargs)
        calls.setdefault(path, []).append(out)
        return out

    module.__class__ = type(base.__name__, (base,), {"__call__": __call__})


def generated_paths(model: nn.Module) -> dict[str, str]:
    """Generated attribute path (as MLX's ``named_modules`` spells it) -> torch path."""
    return {state_key(model, p): p for p, _ in model.named_modules()}


def instance_at(generated: Any, model: nn.Module, path: str) -> Any:
    """The generated module instance at torch path ``path`` (None where there is none)."""
    node, module = generated, model
    for seg in segments(path):
        try:
            if is_list(module):
                node = node[int(seg)]
            elif isinstance(module, nn.ModuleDict):
                node = node[seg]
            else:
                node = getattr(node, attr_name(module, seg))
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):
            return None
        module = module._modules[seg]
    return node


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
    if len(refs) != len(outs):
        return "skipped", [], f"the generated call returns {len(outs)} arrays, torch {len(refs)}"
    if perms is not None and len(perms) == len(outs):
        outs = [canonical(o, p) for o, p in zip(outs, perms)]
    elif any(tuple(o.shape) != tuple(r.shape) for o, r in zip(outs, refs)):
        return "skipped", [], "layout of the generated output unknown"
    rtol, atol, dtype = tol
    checks = [
        check_leaf(path, r, o, tolerance_for(least_precise([r.dtype, dtype]), rtol, atol))
        for r, o in zip(refs, outs)
    ]
    ok = all(c.ok for c in checks)
    return ("ok" if ok else "diverges"), checks, "; ".join(c.problem for c in checks if c.problem)


def mlx_args(inputs: tuple, channels_last_io: bool) -> list[Any]:
    args = [to_mlx(x) for x in inputs]
    if channels_last_io:
        args = [mx.moveaxis(a, 1, -1) if _spatial(a) else a for a in args]
    return args


def _spatial(value: Any) -> bool:
    return isinstance(value, mx.array) and value.ndim in (3, 4, 5)


def debug_generated(
    captured: Captured,
    generated: Any,
    source: str,
    inputs: tuple,
    rtol: float = 1e-4,
    atol: float = 1e-3,
    channels_last_io: bool = False,
) -> DebugResult:
    """Compare every module call, then locate the first divergent op (see the module doc)."""
    model = captured.model
    result = DebugResult(rtol=rtol, atol=atol)
    glob = _globals(generated)  # before the calls are wrapped: the generated namespace
    expected = torch_calls(model, inputs)
    got = mlx_calls(generated, generated_paths(model), mlx_args(inputs, channels_last_io))
    root = build_scopes(captured)
    layouts = output_layouts(root, captured)
    tol = (rtol, atol, compute_dtype(model, [inputs]))
    seen: dict[str, int] = {}
    for path, ref in expected:
        k = seen[path] = seen.get(path, -1) + 1
        result.modules.append(_module_check(path, k, ref, model, generated, got, layouts, tol))
        if path == "" and channels_last_io:
            result.modules[-1] = _root_check(ref, got, tol, result.modules[-1])
    if result.first is not None:
        _locate(result, captured, (generated, glob), source, root, inputs)
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
    if checks:
        check.max_abs = max(c.max_abs for c in checks)
        check.rel = max(c.rel for c in checks)
        check.elem = max(c.elem for c in checks)
    return check


def _root_check(
    ref: Any, got: Calls, tol: tuple[float, float, Any], check: ModuleCheck
) -> ModuleCheck:
    """The model's own outputs with ``channels_last_io``: channels-last at the boundary."""
    outs = [
        mx.moveaxis(a, -1, 1) if _spatial(a) else a
        for a in pytree.tree_leaves(got.get("", [None])[0])
    ]
    check.status, checks, check.note = compare_call("", ref, outs, None, tol)
    if checks:
        check.max_abs = max(c.max_abs for c in checks)
        check.elem = max(c.elem for c in checks)
    return check


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
    inputs: tuple,
) -> None:
    """The culprit: the first divergent call (in finishing order) with an op that drifts on
    torch's exact inputs; a call whose ops all match only passed on a wrong input."""
    try:
        env = torch_values(captured, inputs)
    except Exception as exc:  # noqa: BLE001 - a graph torch can't rerun: say so, keep the rest
        result.notes.append(f"ops not checked: the captured graph did not run in torch ({exc})")
        return
    generated, glob = loaded
    probe = OpProbe(captured, env, glob)
    owner = {n: s for s in walk(root) for n in s.nodes}
    for check in [m for m in result.modules if m.status == "diverges"]:
        nodes = _nodes_of(root, captured, check.path, check.call)
        result.op = _first_op(probe, nodes, owner, generated, source, result)
        if result.op is not None:
            result.culprit = check
            return
        check.note = f"its input differs already ({check.note})" if nodes else check.note
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
        if node in scope.sizes or not _has_tensor(probe.env.get(node.name)):
            continue
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
    return None


def _globals(generated: Any) -> dict[str, Any]:
    """The generated module's namespace (``mx``, ``nn``, its helpers)."""
    for cls in type(generated).__mro__:
        call = vars(cls).get("__call__")
        if call is not None and getattr(call, "__globals__", {}).get("mx") is mx:
            return dict(call.__globals__)
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
