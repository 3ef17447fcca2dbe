"""Attribute paths: how a module path reads from inside a generated class.

Each torch child name (submodule, parameter, buffer) gets one generated attribute name, unique
within its module (``attr_names``); ``attr_text`` and ``state_key`` both read that table, so
the code and the weights file always agree, and ``sanitize`` maps the torch keys to it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..expr import literal
from ..passes.collapse_layers import is_list
from .names import attr_identifier

# Marks a path segment that names the private copy of a constant (``self._position_ids``).
PRIVATE = "\x00private:"


def segments(path: str) -> list[str]:
    return path.split(".") if path else []


def relative(base: str, path: str) -> str:
    """``path`` relative to ``base`` ('' when equal)."""
    if not base:
        return path
    assert path == base or path.startswith(base + "."), (base, path)
    return path[len(base) + 1 :]


def _child_names(module: nn.Module) -> list[str]:
    """Every name a generated class may hold for ``module``, in a fixed order."""
    names = [*module._modules, *module._parameters, *module._buffers]
    names += [k for k, v in vars(module).items() if isinstance(v, torch.Tensor)]
    return list(dict.fromkeys(names))


def attr_names(module: nn.Module, extra: str | None = None) -> dict[str, str]:
    """Torch child name -> generated attribute name, unique within ``module``. Names that are
    already fine keep themselves; the others (``class`` -> ``class_``) take the next free
    spelling, so ``class`` and ``class_`` never land on one attribute."""
    names = _child_names(module)
    if extra is not None and extra not in names:
        names.append(extra)
    out = {n: n for n in names if attr_identifier(n) == n}
    taken = set(out)
    for n in names:
        if n in out:
            continue
        base = name = attr_identifier(n)
        sep, k = ("" if base.endswith("_") else "_"), 2
        while name in taken:
            name, k = f"{base}{sep}{k}", k + 1
        out[n] = name
        taken.add(name)
    return out


def attr_name(module: nn.Module | None, name: str) -> str:
    """The generated attribute for child ``name`` of ``module``."""
    if module is None:
        return attr_identifier(name)
    return attr_names(module, name)[name]


def private(name: str) -> str:
    """The path segment of the private copy of ``name`` (see ``PRIVATE``)."""
    return PRIVATE + name


def attr_text(owner: nn.Module, rel: str, root: str = "self") -> str:
    """``'layer1.0.conv1'`` -> ``'self.layer1[0].conv1'``, walking the torch modules."""
    text, module = root, owner
    for seg in segments(rel):
        if seg.startswith(PRIVATE):
            text += f"._{attr_name(module, seg[len(PRIVATE):])}"
        elif is_list(module):
            text += f"[{int(seg)}]"
        elif isinstance(module, nn.ModuleDict):
            text += f"[{literal(seg)}]"
        else:
            text += f".{attr_name(module, seg)}"
        module = getattr(module, "_modules", {}).get(seg) if module is not None else None
    return text


def state_key(model: nn.Module, key: str) -> str:
    """The generated parameter path for a torch state key (same segments, except attribute
    names that had to be renamed to be valid in MLX)."""
    out, module = [], model
    for seg in segments(key):
        keep = is_list(module) or isinstance(module, nn.ModuleDict)
        out.append(seg if keep else attr_name(module, seg))
        module = getattr(module, "_modules", {}).get(seg) if module is not None else None
    return ".".join(out)
