"""One generated class per distinct module: deduplicate instances, lift varying arguments.

Instances of a torch class whose bodies and constructor structure agree share one class;
constructor values that differ between them become ``__init__`` parameters. Instances that
differ only by an optional submodule (``downsample=None``) share one class that tests
``"downsample" in self``. Anything else becomes a suffixed variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import fx, nn

from ..converters.helpers import closure
from ..expr import literal
from .attrs import attr_name
from .body import Body
from .docstring import source_name
from .draft import Drafter
from .init import NO_DEFAULT, CallNode, InitLine, Slot, Tree, render, shape_key, slots
from .names import NameTable, class_name
from .optional import NotAChain
from .scopes import Scope

_MISSING = object()


@dataclass
class ClassDef:
    """A generated class, ready for the template."""

    name: str
    source: str  # the torch class it comes from, for the docstring
    params: list[tuple[str, str, str | None]]
    init: list[str]
    call_params: list[str]
    body: list[str]
    call_types: list[str] = field(default_factory=list)
    returns: str = "mx.array"
    count: int = 1


def annotation(value: object) -> str:
    """The type annotation for a value flowing through ``__call__`` (a node's ``val``, or a
    constant the code returns as it is)."""
    if isinstance(value, torch.Tensor):
        return "mx.array"
    if isinstance(value, (torch.SymBool, bool)):  # before int: a bool is an int
        return "bool"
    if isinstance(value, (torch.SymInt, int)):
        return "int"
    if isinstance(value, (torch.SymFloat, float)):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return "list[mx.array]"
    return "mx.array"


def returns_annotation(outs: list[fx.Node]) -> str:
    kinds = [annotation(o.meta.get("val")) for o in outs]
    if len(kinds) == 1:
        return kinds[0]
    return "tuple[" + ", ".join(kinds) + "]"


def _post_order(scope: Scope) -> list[Scope]:
    """Children before their parent: a class is defined before the classes that use it."""
    out = [s for c in scope.children for s in _post_order(c)]
    return out + [scope]


def _height(scope: Scope) -> int:
    return 1 + max((_height(c) for c in scope.children), default=0)


class ClassPlanner:
    """Decides the generated classes and how each scope's parent constructs it."""

    def __init__(self, drafter: Drafter, root: Scope, reserved: set[str] = frozenset()) -> None:
        self.drafter = drafter
        self.root = root
        self.ctor: dict[Scope, Tree] = {}
        self.classes: list[ClassDef] = []
        self.names = NameTable({"Model"} | set(reserved))

    def plan(self) -> list[ClassDef]:
        groups: dict[type, list[Scope]] = {}
        for scope in _post_order(self.root)[:-1]:
            groups.setdefault(type(scope.module), []).append(scope)
        heights = {t: max(_height(s) for s in ss) for t, ss in groups.items()}
        for cls in sorted(groups, key=lambda t: heights[t]):
            self._plan_group(cls, groups[cls])
        top = self._draft(self.root)
        name = self._fresh(class_name(type(self.root.module).__name__))
        self.classes.append(self._make(name, [self.root], [top[0]], top[1], []))
        return self.classes

    def _fresh(self, base: str) -> str:
        """A class name unlike every helper the file uses so far (a root ``nn.GRU``'s ops
        bring in the ``GRU`` helper class)."""
        self.names.taken |= set(closure(self.drafter.helpers))
        return self.names.fresh(base)

    def _draft(self, scope: Scope) -> tuple[list[InitLine], Body]:
        payloads = self.drafter.payloads(scope, self.ctor.__getitem__)
        return self.drafter.init_lines(scope, payloads), self.drafter.body(scope)

    def _plan_group(self, cls: type, insts: list[Scope]) -> None:
        drafts = {s: self._draft(s) for s in insts}
        base = class_name(cls.__name__)
        if _uniform([drafts[s] for s in insts]):
            first = drafts[insts[0]]
            self._finish(base, insts, [drafts[s][0] for s in insts], first[1], [])
            return
        if self._merge_optional(base, insts, drafts):
            return
        variants: dict[object, list[Scope]] = {}
        for s in insts:
            variants.setdefault(_key(drafts[s]), []).append(s)
        for group in variants.values():
            self._finish(base, group, [drafts[s][0] for s in group], drafts[group[0]][1], [])

    def _merge_optional(
        self, base: str, insts: list[Scope], drafts: dict[Scope, tuple[list[InitLine], Body]]
    ) -> bool:
        optional = _optional_attrs(insts)
        full = [s for s in insts if all(_present(s, a) for a in optional)]
        if not optional or not full:
            return False
        try:
            reduced = {
                tuple(self.drafter.body(s, alias=optional & _attrs_of(s)).lines) for s in insts
            }
            body = self.drafter.body(full[0], guard=optional)
        except NotAChain:
            return False
        shapes = {
            tuple(
                shape_key(ln.tree) for ln in drafts[s][0] if _optional_attr(ln, s, optional) is None
            )
            for s in insts
        }
        if len(reduced) != 1 or len(shapes) != 1:
            return False
        ref = full[0]
        template = [
            InitLine(ln.target, ln.tree, _optional_attr(ln, ref, optional)) for ln in drafts[ref][0]
        ]
        aligned = [_align(template, drafts[s][0], optional) for s in insts]
        for lines in aligned:
            for t, line in zip(template, lines):
                if line is not None and shape_key(line.tree) != shape_key(t.tree):
                    return False
        flags = [(a, [_present(s, a) for s in insts]) for a in sorted(optional)]
        self._finish(base, insts, aligned, body, flags)
        return True

    def _finish(
        self,
        base: str,
        insts: list[Scope],
        inits: list[list[InitLine | None]],
        body: Body,
        flags: list[tuple[str, list[bool]]],
    ) -> None:
        name = self._fresh(base)
        cdef = self._make(name, insts, inits, body, flags)
        self.classes.append(cdef)

    def _make(
        self,
        name: str,
        insts: list[Scope],
        inits: list[list[InitLine | None]],
        body: Body,
        flags: list[tuple[str, list[bool]]],
    ) -> ClassDef:
        template = next(i for i in inits if all(ln is not None for ln in i))
        params, values = _lift(template, inits)  # type: ignore[arg-type]
        flag = _flag_names(params, flags)
        lines = _render_init(template, inits, flag)  # type: ignore[arg-type]
        defaults = _defaults(params, values)
        positional = [(p, ann) for p, ann in params if p not in defaults]
        keyword = [(p, ann) for p, ann in params if p in defaults]
        sig = [(p, ann, None) for p, ann in positional]
        sig += [(p, ann, literal(defaults[p])) for p, ann in keyword]
        sig += [(flag[a], "bool", "False") for a, _ in flags]
        for k, scope in enumerate(insts):
            args: list[Tree] = [Slot(p, values[p][k]) for p, _ in positional]
            kwargs: list[tuple[str, Tree]] = [
                (p, Slot(p, _or(values[p][k], defaults[p]), default=defaults[p]))
                for p, _ in keyword
            ]
            kwargs += [(flag[a], Slot(flag[a], present[k], default=False)) for a, present in flags]
            self.ctor[scope] = CallNode(name, args, kwargs)
        source = source_name(type(insts[0].module))
        first = insts[0]
        types = [annotation(n.meta.get("val")) for n in first.inputs]
        return ClassDef(
            name,
            source,
            sig,
            lines,
            body.params,
            body.lines,
            types,
            returns_annotation(first.outputs),
            len(insts),
        )


def _flag_names(
    params: list[tuple[str, str]], flags: list[tuple[str, list[bool]]]
) -> dict[str, str]:
    """``__init__`` flag per optional torch attribute, unique next to the lifted parameters
    (attributes ``class`` and ``class_`` must not share one flag)."""
    table = NameTable({p for p, _ in params} | {"self"})
    return {a: table.fresh(a) for a, _ in flags}


def _or(value: object, default: object) -> object:
    return default if value is _MISSING else value


def _defaults(params: list[tuple[str, str]], values: dict[str, list[object]]) -> dict[str, object]:
    """A default for each parameter most instances agree on (or some instances don't use):
    ``BasicBlock(128, 128)`` rather than ``BasicBlock(128, 128, 1, downsample=False)``."""
    out: dict[str, object] = {}
    for p, _ in params:
        present = [v for v in values[p] if v is not _MISSING]
        common = max(present, key=lambda v: sum(repr(v) == repr(w) for w in present))
        count = sum(repr(common) == repr(v) for v in present)
        if len(present) < len(values[p]) or 2 * count > len(values[p]):
            out[p] = common
    return out


def _uniform(drafts: list[tuple[list[InitLine], Body]]) -> bool:
    return len({_key(d) for d in drafts}) == 1


def _key(draft: tuple[list[InitLine], Body]) -> object:
    init, body = draft
    return (tuple((ln.target, shape_key(ln.tree)) for ln in init), tuple(body.lines))


def _attr(line: InitLine) -> str:
    return line.target.split(".")[1].split("[")[0]


def _optional_attr(line: InitLine, scope: Scope, optional: set[str]) -> str | None:
    """The optional torch attribute ``line`` builds (its generated name may differ)."""
    generated = _attr(line)
    return next((a for a in sorted(optional) if attr_name(scope.module, a) == generated), None)


def _optional_attrs(insts: list[Scope]) -> set[str]:
    """Attributes that are a submodule in some instances and ``None`` in others."""
    out: set[str] = set()
    for s in insts:
        for name, child in s.module._modules.items():
            if child is None:
                continue
            if any(getattr(o.module, name, _MISSING) is None for o in insts):
                out.add(name)
    return out


def _attrs_of(scope: Scope) -> set[str]:
    return {name for name, child in scope.module._modules.items() if child is not None}


def _present(scope: Scope, attr: str) -> bool:
    return isinstance(getattr(scope.module, attr, None), nn.Module)


def _align(
    template: list[InitLine], lines: list[InitLine], optional: set[str]
) -> list[InitLine | None]:
    out: list[InitLine | None] = []
    rest = iter(ln for ln in lines)
    pending = next(rest, None)
    for t in template:
        if pending is not None and pending.target == t.target:
            out.append(InitLine(pending.target, pending.tree, t.guard))
            pending = next(rest, None)
        else:
            out.append(None)
    return out


def _lift(
    template: list[InitLine], inits: list[list[InitLine | None]]
) -> tuple[list[tuple[str, str]], dict[str, list[object]]]:
    """Group varying slots into parameters; mark template slots with their parameter."""
    columns: list[tuple[Slot, list[object]]] = []
    for j, line in enumerate(template):
        for k, slot in enumerate(slots(line.tree)):
            col = [(slots(i[j].tree)[k].value if i[j] is not None else _MISSING) for i in inits]
            columns.append((slot, col))
    params: list[tuple[str, str]] = []
    values: dict[str, list[object]] = {}
    table = NameTable()
    for slot, col in columns:
        present = [v for v in col if v is not _MISSING]
        match = next((p for p, _ in params if _compatible(values[p], col)), None)
        varying = len({repr(v) for v in present}) > 1
        if not varying and (match is None or len(present) == len(col)):
            continue
        if match is None:
            match = table.fresh(slot.role)
            params.append((match, _param_type(present[0])))
            values[match] = list(col)
        else:
            values[match] = [a if a is not _MISSING else b for a, b in zip(values[match], col)]
        slot.param = match
    return params, values


def _param_type(value: object) -> str:
    """The annotation of a lifted constructor value: a builtin type's name, never the value's
    own class name (a model could name a ``float`` subclass anything)."""
    for kind in (bool, int, float, str, tuple, list):
        if isinstance(value, kind):
            return kind.__name__
    return "object"


def _compatible(a: list[object], b: list[object]) -> bool:
    return all(x is _MISSING or y is _MISSING or x == y for x, y in zip(a, b))


def _render_init(
    template: list[InitLine], inits: list[list[InitLine | None]], flag: dict[str, str]
) -> list[str]:
    lines: list[str] = []
    for j, line in enumerate(template):
        omit = set()
        for k, slot in enumerate(slots(line.tree)):
            if slot.param or slot.default is NO_DEFAULT:
                continue
            same = [slots(i[j].tree)[k] for i in inits if i[j] is not None]
            if all(s.value == s.default for s in same):
                omit.add(id(slot))
        text = f"{line.target} = {render(line.tree, omit)}"
        if line.guard:
            lines += [f"if {flag[line.guard]}:", f"    {text}"]
        else:
            lines.append(text)
    return lines
