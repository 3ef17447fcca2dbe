"""Turning names from a model into safe, readable Python identifiers."""

from __future__ import annotations

import builtins
import keyword
import re

# Names the generated file itself uses at module level.
RESERVED = {"mx", "nn", "self", "load", "Path", "math"}
_SHADOWED = set(dir(builtins))


def identifier(name: str, fallback: str = "x") -> str:
    """``'layer1.0'`` -> ``'layer1_0'``; keywords and builtins get a trailing underscore."""
    text = re.sub(r"\W", "_", name)
    text = re.sub(r"_+", "_", text).strip("_") or fallback
    if text[0].isdigit():
        text = f"{fallback}_{text}"
    if keyword.iskeyword(text) or keyword.issoftkeyword(text) or text in RESERVED | _SHADOWED:
        text += "_"
    return text


def _module_attrs() -> set[str]:
    import mlx.nn as mlx_nn

    return set(dir(mlx_nn.Module))


_MODULE_ATTRS = _module_attrs()


def attr_identifier(name: str) -> str:
    """An attribute name for a generated ``nn.Module``: a valid identifier that doesn't shadow
    a method of MLX's ``nn.Module`` (``update``, ``keys``, ``parameters``...)."""
    text = re.sub(r"\W", "_", name) or "_"
    if text[0].isdigit():
        text = f"m_{text}"
    if keyword.iskeyword(text) or keyword.issoftkeyword(text) or text in _MODULE_ATTRS:
        text += "_"
    return text


def class_name(name: str) -> str:
    """A valid class name from a torch class name (``'My-Block'`` -> ``'My_Block'``)."""
    text = identifier(name, fallback="Module")
    return text[0].upper() + text[1:]


class NameTable:
    """Hands out unique identifiers inside one scope, deterministically."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken: set[str] = set(taken or ())

    def fresh(self, hint: str) -> str:
        base = identifier(hint)
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}{n}"
        self.taken.add(name)
        return name
