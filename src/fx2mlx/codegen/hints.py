"""Variable names from the user's own source: ``identity = self.downsample(x)`` -> ``identity``."""

from __future__ import annotations

import functools
import inspect
import linecache
import re

from torch import fx, nn

_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:[-+*/@]|//)?=(?!=)")
_TUPLE = re.compile(r"^\s*[A-Za-z_]\w*\s*,")


@functools.lru_cache(maxsize=None)
def _source_file(cls: type) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except (TypeError, OSError):
        return None


def source_hint(node: fx.Node, module: nn.Module) -> str | None:
    """The assignment target on the line of ``module``'s forward that produced ``node``."""
    trace = node.meta.get("stack_trace") or ""
    path = _source_file(type(module))
    if not trace or not path:
        return None
    line = None
    for m in _FRAME.finditer(trace):
        if m.group(1) == path and hasattr(type(module), m.group(3)):
            line = int(m.group(2))
    if line is None:
        return None
    code = linecache.getline(path, line)
    if _TUPLE.match(code):
        return None
    m = _ASSIGN.match(code)
    return m.group(1) if m else None
