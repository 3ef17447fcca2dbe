"""One scope's class as drafted before deduplication: its ``__init__`` tree and its body."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import fx, nn

from ..capture import Captured
from ..converters.registry import Ctor, layer_for
from ..emit_ctx import dtype_expr
from ..expr import ATOM, Expr, hole, literal
from ..folded_weights import fold_biases
from ..meta import LAYER
from .attrs import attr_text, is_list, private, relative, segments
from .body import Body, render_body
from .collect import scope_statements
from .constants import constant_tree
from .init import NO_DEFAULT, CallNode, DictNode, InitLine, ListNode, Raw, Slot, Tree
from .loops import PASS_THROUGH, fold_loops
from .optional import optional_call
from .order import init_order
from .params import param_names
from .scopes import Scope, walk
from .statements import returns


class Drafter:
    """Renders bodies and builds ``__init__`` trees for scopes of one captured graph."""

    def __init__(self, captured: Captured, helpers: set[str], ret_root: Expr) -> None:
        self.captured = captured
        self.helpers = helpers
        self.ret_root = ret_root
        self.order = {n: i for i, n in enumerate(captured.graph.nodes)}
        self.attrs = [n for n in captured.graph.nodes if n.op == "get_attr"]
        self.embedded = _embedded(captured)
        self.names: dict[Scope, dict[fx.Node, str]] = {}  # parameter names chosen so far

    # -- body --------------------------------------------------------------------------
    def owned_key(self, scope: Scope, node: fx.Node) -> str | None:
        key = str(node.target)
        for alias in [key, *self.captured.aliases.get(key, [])]:
            if scope.owns(alias):
                return alias
        return None

    def attr_values(self, scope: Scope) -> dict[str, Expr]:
        out: dict[str, Expr] = {}
        for node in self.attrs:
            key = self.owned_key(scope, node)
            if key is not None:
                out[node.name] = Expr(attr_text(scope.module, self._rel(scope, key)), ATOM)
        return out

    def _rel(self, scope: Scope, key: str) -> str:
        """Path of ``key`` from ``scope``; embedded constants live in private attributes."""
        rel = relative(scope.path, key)
        if key in self.embedded:
            head, _, last = rel.rpartition(".")
            rel = f"{head}.{private(last)}" if head else private(last)
        return rel

    def ret_expr(self, scope: Scope) -> Expr:
        if scope.parent is None:
            return self.ret_root
        outs = [hole(o) for o in scope.outputs]
        return Expr(", ".join(outs) if outs else "None")

    def body(
        self, scope: Scope, guard: set[str] = frozenset(), alias: set[str] = frozenset()
    ) -> Body:
        """Render ``scope``; calls into optional submodules are guarded or dropped.

        Raises:
            NotAChain: an optional submodule's calls don't form one input -> output chain.
        """
        stmts = scope_statements(scope, self.order, self.helpers)
        for attr in sorted(set(guard) | set(alias)):
            stmts = optional_call(stmts, scope, attr, guarded=attr in guard)
        stmts = fold_loops([*stmts, returns(self.ret_expr(scope))], scope)
        known = {n: p for c in scope.children for n, p in self.names.get(c, {}).items()}
        params = list(zip(scope.inputs, param_names(scope, self.captured, known)))
        self.names[scope] = dict(params)
        values = self.attr_values(scope)
        names = {n: p for n, p in params}
        dims = {key: (names[t], axis) for key, (t, axis) in scope.dims.items()}
        for key, (name, axis) in dims.items():
            values[key] = Expr(f"{name}.shape[{axis}]")
        sizes = {node.name: expr for node, expr in scope.sizes.items()}
        return render_body(stmts, params, values, sizes, dims)

    # -- __init__ -----------------------------------------------------------------------
    def init_lines(self, scope: Scope, payloads: dict[str, Tree]) -> list[InitLine]:
        """``self.x = ...`` lines for every attribute the body or a child call uses."""
        tree: dict = {}
        for rel, payload in payloads.items():
            node = tree
            for seg in segments(rel):
                node = node.setdefault(seg, {})
            node["\x00payload"] = payload
        lines: list[InitLine] = []
        self._emit_level(scope.module, "self", tree, lines)
        return lines

    def _emit_level(
        self, module: nn.Module, prefix: str, tree: dict, lines: list[InitLine]
    ) -> None:
        for seg in _ordered(module, tree):
            sub = getattr(module, "_modules", {}).get(seg)
            target = attr_text(module, seg, prefix)
            holders: list[tuple[nn.Module, str, dict]] = []
            built = self._tree_for(sub, tree[seg], target, holders)
            if built is None:  # a plain module nothing calls: a holder for what is used inside
                built = Raw("nn.Module()")
                holders.append((sub, target, tree[seg]))
            lines.append(InitLine(target, built))
            for holder, holder_target, holder_tree in holders:
                self._emit_level(holder, holder_target, holder_tree, lines)

    def _tree_for(
        self,
        module: nn.Module | None,
        node: dict,
        target: str,
        holders: list[tuple[nn.Module, str, dict]],
    ) -> Tree | None:
        """The constructor tree at ``node``; holders to fill afterwards go to ``holders``."""
        if "\x00payload" in node:
            return node["\x00payload"]
        if is_list(module):
            keys: list[object] = list(range(len(module)))
        elif isinstance(module, nn.ModuleDict):
            keys = [k for k in module.keys() if k in node]
        else:
            return None
        items: list[Tree] = []
        for k in keys:
            child = module[k]  # type: ignore[index]
            if str(k) not in node:
                items.append(filler(child))
                continue
            item_target = f"{target}[{literal(k)}]"
            built = self._tree_for(child, node[str(k)], item_target, holders)
            if built is None:
                built = Raw("nn.Module()")
                holders.append((child, item_target, node[str(k)]))
            items.append(built)
        if isinstance(module, nn.ModuleDict):
            return DictNode(list(zip([str(k) for k in keys], items)))
        return ListNode(items)

    def payloads(self, scope: Scope, child_ctor: Callable[[Scope], Tree]) -> dict[str, Tree]:
        """What this scope's ``__init__`` must build, by path relative to the scope."""
        out: dict[str, Tree] = {}
        for node in scope.nodes:
            if node.op == "call_module":
                layer = node.meta[LAYER]
                out.setdefault(relative(scope.path, layer.path), layer_tree(layer.ctor))
        for child in scope.children:
            out.setdefault(relative(scope.path, child.path), child_ctor(child))
        keys = list(self.declared[scope])
        for owner, ctor in self._uncalled_layers(scope, keys).items():
            out.setdefault(relative(scope.path, owner), layer_tree(ctor))
            keys = [k for k in keys if not k.startswith(owner + ".")]
        for key in keys:
            tree = self.embedded.get(key) or param_tree(self.captured.consts[key])
            out.setdefault(self._rel(scope, key), tree)
        return out

    def _uncalled_layers(self, scope: Scope, keys: list[str]) -> dict[str, object]:
        """Layers whose parameters are read directly (``out_proj.weight``): build the layer."""
        found: dict[str, object] = {}
        for key in keys:
            owner = key.rsplit(".", 1)[0] if "." in key else ""
            if owner == scope.path or owner in found or not owner.startswith(scope.path):
                continue
            module = self.captured.module(owner)
            conv = layer_for(module)
            params = [f"{owner}.{n}" for n, _ in module.state_dict().items()]
            if conv is None or conv.weight_fix or not all(p in keys for p in params):
                continue
            ctor = conv.build(module)
            if ctor is not None and not ctor.helpers:  # helper classes need a real call
                found[owner] = ctor
        return found

    def assign_params(self, root: Scope) -> None:
        """Each used parameter is declared by the deepest scope whose module holds it."""
        self.declared: dict[Scope, list[str]] = {s: [] for s in walk(root)}
        layers = {n.meta[LAYER].path for n in self.captured.graph.nodes if n.op == "call_module"}
        for node in self.attrs:
            key = str(node.target)
            if key not in self.captured.consts:
                continue
            owner_path = key.rsplit(".", 1)[0] if "." in key else ""
            if owner_path in layers:
                continue
            scope = _deepest(root, key)
            if key not in self.declared[scope]:
                self.declared[scope].append(key)


def _embedded(captured: Captured) -> dict[str, Tree]:
    """Constants outside the state_dict that an expression can rebuild exactly."""
    # a bias --fold-batchnorm gave a conv is a weight too (sanitize computes it)
    state = set(captured.model.state_dict()) | set(fold_biases(captured))
    out: dict[str, Tree] = {}
    for key, tensor in captured.consts.items():
        if key in state or not isinstance(tensor, torch.Tensor):
            continue
        tree = constant_tree(tensor)
        if tree is not None:
            out[key] = tree
    return out


def _deepest(scope: Scope, key: str) -> Scope:
    for child in scope.children:
        if key.startswith(child.path + "."):
            return _deepest(child, key)
    return scope


def _ordered(module: nn.Module | None, tree: dict) -> list[str]:
    """Attributes in torch's order: as ``__init__`` assigns them, else submodules, then
    parameters, then buffers."""
    keys = [k for k in tree if k != "\x00payload"]
    if module is None:
        return keys
    known = list(getattr(module, "_modules", {})) + list(getattr(module, "_parameters", {}))
    known += list(getattr(module, "_buffers", {}))
    rank = {k: i for i, k in enumerate(known)}
    source = init_order(type(module))
    return sorted(
        keys, key=lambda k: (source.get(k, len(source)), rank.get(k, len(rank)), keys.index(k))
    )


# Arguments a bare number leaves unclear (``nn.Conv2d(64, 64, 3)``): passed by keyword, as
# MLX's own examples do (``kernel_size=3``); sizes (channels, dims) stay positional.
KEYWORD_ROLES = {"kernel_size", "negative_slope"}


def layer_tree(ctor: Ctor) -> Tree:
    roles = [role for role, _ in ctor.args]
    cut = next((i for i, role in enumerate(roles) if role in KEYWORD_ROLES), len(roles))
    args: list[Tree] = [Slot(role, value) for role, value in ctor.args[:cut]]
    kwargs: list[tuple[str, Tree]] = [(role, Slot(role, value)) for role, value in ctor.args[cut:]]
    kwargs += [(k, Slot(k, v, ctor.defaults.get(k, NO_DEFAULT))) for k, v in ctor.kwargs]
    return CallNode(ctor.fn, args, kwargs)


def param_tree(tensor: torch.Tensor) -> Tree:
    dims = ListNode([Slot("dims", int(s)) for s in tensor.shape], "()")
    kwargs: list[tuple[str, Tree]] = []
    if tensor.dtype not in (torch.float32, torch.float64):
        kwargs.append(("dtype", Raw(dtype_expr(tensor.dtype))))
    return CallNode("mx.zeros", [dims], kwargs)


def filler(module: nn.Module) -> Tree:
    """A list element no call reached: something that does nothing in eval mode."""
    if isinstance(module, PASS_THROUGH) and isinstance(module, nn.Dropout):
        return CallNode("nn.Dropout", [Slot("p", float(module.p))])
    return Raw("nn.Identity()")
