"""Attribute paths: how a module path reads from inside a generated class."""

from __future__ import annotations

from torch import nn

from ..passes.collapse_layers import LIST_TYPES
from .names import attr_identifier


def segments(path: str) -> list[str]:
    return path.split(".") if path else []


def relative(base: str, path: str) -> str:
    """``path`` relative to ``base`` ('' when equal)."""
    if not base:
        return path
    assert path == base or path.startswith(base + "."), (base, path)
    return path[len(base) + 1 :]


def attr_text(owner: nn.Module, rel: str, root: str = "self") -> str:
    """``'layer1.0.conv1'`` -> ``'self.layer1[0].conv1'``, walking the torch modules."""
    text, module = root, owner
    for seg in segments(rel):
        if isinstance(module, LIST_TYPES):
            text += f"[{int(seg)}]"
        elif isinstance(module, nn.ModuleDict):
            text += f"[{seg!r}]"
        else:
            text += f".{attr_identifier(seg)}"
        module = getattr(module, "_modules", {}).get(seg) if module is not None else None
    return text


def state_key(model: nn.Module, key: str) -> str:
    """The generated parameter path for a torch state key (same segments, except attribute
    names that had to be renamed to be valid in MLX)."""
    out, module = [], model
    for seg in segments(key):
        keep = isinstance(module, (*LIST_TYPES, nn.ModuleDict))
        out.append(seg if keep else attr_identifier(seg))
        module = getattr(module, "_modules", {}).get(seg) if module is not None else None
    return ".".join(out)
