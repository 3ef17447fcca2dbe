"""Variable names from the user's own source: ``identity = self.downsample(x)`` -> ``identity``."""

from __future__ import annotations

import builtins
import functools
import inspect
import keyword
import linecache
import re
import unicodedata

from torch import fx, nn

from .names import reserved

_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:[-+*/@]|//)?=(?!=)")
_AVOID = set(dir(builtins)) | {"layer"}
_TUPLE = re.compile(r"^\s*([A-Za-z_]\w*)\s*,[\w\s,]*=(?!=)")


@functools.cache
def _source_span(cls: type) -> tuple[str, int, int] | None:
    """File and line range of a class definition."""
    try:
        path = inspect.getsourcefile(cls)
        lines, start = inspect.getsourcelines(cls)
    except (TypeError, OSError):
        return None
    return (path, start, start + len(lines)) if path else None


Location = tuple[str, int, str]
"""File, line number and function of a source line."""


def source_location(node: fx.Node, module: nn.Module) -> Location | None:
    """The line of ``module``'s ``forward`` that produced ``node``. (Only ``forward``:
    torch.export records no other frames, fx all; reading the same gives the same file.)"""
    trace = node.meta.get("stack_trace") or ""
    span = _source_span(type(module))
    if not trace or not span:
        return None
    path, first, end = span
    found = None
    for m in _FRAME.finditer(trace):
        if m.group(1) == path and first <= int(m.group(2)) < end and m.group(3) == "forward":
            found = (path, int(m.group(2)), m.group(3))
    return found


def source_line(node: fx.Node, module: nn.Module) -> str | None:
    """The text of :func:`source_location` (a call spread over lines: all of it)."""
    found = source_location(node, module)
    if found is None:
        return None
    path, line, _ = found
    text = linecache.getline(path, line)
    # a call spread over several lines: read on until its brackets close
    for extra in range(1, 12):
        if text.count("(") + text.count("[") <= text.count(")") + text.count("]"):
            break
        text += linecache.getline(path, line + extra)
    return text


def source_hint(node: fx.Node, module: nn.Module) -> str | None:
    """The assignment target on the line of ``module``'s forward that produced ``node``."""
    code = source_line(node, module)
    if code is None:
        return None
    code = code.splitlines()[0] if code else code
    # `out, weights = f(...)`: the first name is the main result
    m = _TUPLE.match(code) or _ASSIGN.match(code)
    if m is None:
        return None
    name = unicodedata.normalize("NFKC", m.group(1))  # as Python will read it
    if name in _AVOID | reserved() or keyword.iskeyword(name) or not name.isidentifier():
        return None  # `input = module(input)`: don't shadow builtins in generated code
    return name
