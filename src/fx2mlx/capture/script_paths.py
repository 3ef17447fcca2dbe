"""Which module each node of an inlined TorchScript graph ran in.

After ``torch._C._jit_pass_inline`` every node names the calls it was inlined through by
instance name (``Node.getModuleHierarchy()``: ``_model(VADRNNJIT).encoder(Sequential).0(
SileroVadBlock)``). Names alone are ambiguous (``enc.0`` and ``dec.0`` are both ``0``), so
each call's module path comes from the attribute reads its own code makes (``self.proj``
in a block reads from ``dec.0``), following the ``GetAttr`` chains from ``self``; a call
that reads nothing takes the nearest submodule of its name under its caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import torch

__all__ = ["Chain", "node_chains", "nodes"]

Levels = tuple[str, ...]  # instance names of the calls, outermost first
Chain = tuple[str, ...]  # the module path of each call, relative to the ScriptModule

_LEVEL = re.compile(r"([^.()]+)\(([^()]*)\)")
_NOT_A_MODULE = {"SELF", "UNKNOWN_INSTANCE"}  # a method of the same module; a function


def nodes(block: torch._C.Block) -> Iterator[torch._C.Node]:
    """Every node of ``block`` and its sub-blocks, in program order."""
    for node in block.nodes():
        yield node
        for sub in node.blocks():
            yield from nodes(sub)


def _levels(node: torch._C.Node) -> Levels | None:
    """The calls ``node`` was inlined through; None where TorchScript lost them (the checks
    a ``torch.nn`` layer's forward makes on its input come out empty)."""
    text = node.getModuleHierarchy()
    if not text or text.startswith("."):
        return None
    return tuple(name for name, _ in _LEVEL.findall(text) if name not in _NOT_A_MODULE)


def _common(a: tuple, b: tuple) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _filled(found: list[Levels | None]) -> list[Levels]:
    """A node without levels is in the calls the nodes around it share (code of the top
    forward itself: in none)."""
    known = [(i, levels) for i, levels in enumerate(found) if levels is not None]
    out: list[Levels] = []
    before: Levels = ()
    for i, levels in enumerate(found):
        if levels is None:
            after = next((lv for j, lv in known if j > i), ())
            levels = before[: _common(before, after)]
        out.append(levels)
        before = levels
    return out


def _module_paths(graph: torch._C.Graph) -> dict[int, str]:
    """Each module value of ``graph`` -> its path from ``self`` (``blocks.0``)."""
    paths = {next(graph.inputs()).unique(): ""}
    for node in nodes(graph.block()):
        if node.kind() != "prim::GetAttr" or node.input().unique() not in paths:
            continue
        if node.output().type().kind() == "ClassType":
            parent = paths[node.input().unique()]
            paths[node.output().unique()] = f"{parent}.{node.s('name')}".lstrip(".")
    return paths


@dataclass(eq=False)
class _Site:
    """One call in the inlined code: its instance name, its caller, its module path."""

    name: str
    parent: _Site | None
    path: str | None = None

    def owner(self, read: str) -> str | None:
        """The module this call runs on, from a path its code read an attribute of: the
        shortest prefix of ``read`` under the caller's module that ends in this name."""
        above = self.parent.path if self.parent is not None else ""
        parts = read.split(".")
        for end in range(1, len(parts) + 1):
            path = ".".join(parts[:end])
            under = above is None or not above or path.startswith(f"{above}.")
            if parts[end - 1] == self.name and under:
                return path
        return None


class _Walk:
    """The open calls while walking the nodes in program order."""

    def __init__(self, graph: torch._C.Graph) -> None:
        self.paths = _module_paths(graph)
        self.open: list[_Site] = []

    def step(self, node: torch._C.Node, levels: Levels) -> tuple[_Site, ...]:
        keep = _common(levels, tuple(s.name for s in self.open))
        self.open = self.open[:keep]
        for name in levels[keep:]:
            self.open.append(_Site(name, self.open[-1] if self.open else None))
        read = self.paths.get(node.input().unique()) if node.kind() == "prim::GetAttr" else None
        if self.open and read is not None:
            site = self.open[-1]
            owner = site.owner(read)
            if owner is not None and site.path is None:
                site.path = owner
            elif owner is not None and owner != site.path:  # same name, another module
                self.open[-1] = _Site(site.name, site.parent, owner)
        return tuple(self.open)


def node_chains(graph: torch._C.Graph, modules: list[str]) -> list[Chain]:
    """The module chain of every node of ``graph`` (in :func:`nodes` order); ``modules``:
    the ScriptModule's submodule paths, for calls whose code reads no attribute."""
    found = list(nodes(graph.block()))
    walk = _Walk(graph)
    sites = [walk.step(n, lv) for n, lv in zip(found, _filled([_levels(n) for n in found]))]
    out = []
    for chain in sites:
        paths = [_resolve(site, modules) for site in chain]
        out.append(tuple(paths[: paths.index(None)] if None in paths else paths))
    return out  # type: ignore[return-value]


def _resolve(site: _Site, modules: list[str]) -> str | None:
    if site.path is None:
        above = _resolve(site.parent, modules) if site.parent is not None else ""
        prefix = f"{above}." if above else ""
        found = [p for p in modules if p.startswith(prefix) and p.split(".")[-1] == site.name]
        site.path = min(found, key=len) if found and above is not None else None
    return site.path
