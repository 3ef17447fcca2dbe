"""Turning names from a model into safe, readable Python identifiers.

Python reads identifiers in NFKC form (``ﬁlter`` *is* ``filter``), so names are normalized
first: two names that Python would read as one must already be one here.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
import unicodedata

import mlx.nn as mlx_nn

from ..converters.helpers import HELPERS
from .text import plain

# Names the generated file itself uses at module level, besides the helpers.
FILE_NAMES = {
    "mx",
    "nn",
    "self",
    "load",
    "_weights",
    "json",
    "Path",
    "math",
    "itertools",
    "tree_flatten",
}
_SHADOWED = set(dir(builtins))
# Methods every generated class or the top class defines: an attribute must not replace one.
GENERATED_METHODS = {"sanitize"}


def reserved() -> set[str]:
    """Module-level names of a generated file: its imports, ``load`` and every helper function
    or class a converter may add (a variable of that name would hide it). Class names avoid
    only the helpers a file uses (see ``ClassPlanner``): ``MultiheadAttention`` stays."""
    return FILE_NAMES | set(HELPERS)


def _is_keyword(text: str) -> bool:
    return keyword.iskeyword(text) or keyword.issoftkeyword(text)


def _stable(text: str) -> bool:
    """A valid identifier that Python will read back unchanged."""
    return text.isidentifier() and unicodedata.normalize("NFKC", text) == text


def _words(name: object) -> str:
    """NFKC form with every non-word character replaced by ``_``."""
    return re.sub(r"\W", "_", unicodedata.normalize("NFKC", plain(name)))


def _ascii(text: str) -> str:
    """Last resort for the rare letter NFKC can't keep as one (``℮``, ``ᢅ``)."""
    return re.sub(r"[^0-9A-Za-z_]", "_", text)


def identifier(name: str, fallback: str = "x") -> str:
    """``'layer1.0'`` -> ``'layer1_0'``; keywords and builtins get a trailing underscore."""
    text = re.sub(r"_+", "_", _words(name)).strip("_") or fallback
    if text[0].isdigit():
        text = f"{fallback}_{text}"
    if not _stable(text):
        return identifier(_ascii(text), fallback)
    if _is_keyword(text) or text in FILE_NAMES | _SHADOWED:
        text += "_"
    return text


def _module_attrs() -> set[str]:
    return set(dir(mlx_nn.Module)) | set(vars(mlx_nn.Module()))


_MODULE_ATTRS = _module_attrs()


@functools.lru_cache(maxsize=1 << 16)
def attr_identifier(name: str) -> str:
    """An attribute name for a generated ``nn.Module``: a valid identifier that doesn't shadow
    a method of MLX's ``nn.Module`` (``update``, ``keys``...) or a generated one (``sanitize``),
    and doesn't start with ``_`` (MLX skips such attributes when it lists parameters).
    Not unique by itself: see ``attrs.attr_names``."""
    raw = plain(name)
    text = _words(raw)
    if text != raw or text.startswith("_"):  # renamed anyway: make it read as one word
        text = re.sub(r"_+", "_", text).strip("_") or "m"
    if text[0].isdigit():
        text = f"m_{text}"
    if not _stable(text):
        return attr_identifier(_ascii(text))
    hidden = text in _MODULE_ATTRS or f"_{text}" in _MODULE_ATTRS  # `_` + name: private copy
    if _is_keyword(text) or hidden or text in GENERATED_METHODS:
        text += "_"
    return text


def class_name(name: str) -> str:
    """A valid class name from a torch class name (``'My-Block'`` -> ``'My_Block'``); checked
    after capitalizing (``true`` -> ``True_``, ``path`` -> ``Path_``)."""
    text = re.sub(r"_+", "_", _words(name)).strip("_") or "Module"
    if text[0].isdigit():
        text = f"Module_{text}"
    text = text[0].upper() + text[1:]
    if not _stable(text):
        return class_name(_ascii(text))
    return text + "_" if _is_keyword(text) or text in FILE_NAMES | _SHADOWED else text


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
