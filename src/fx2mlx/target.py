"""Resolving ``module:attr`` targets and building example inputs from the command line."""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any

import torch

from .errors import Fx2MlxError

DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
    "int64": torch.int64,
    "long": torch.int64,
    "int32": torch.int32,
    "int": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


def parse_shape(text: str) -> tuple[int, ...]:
    """``'2,3,32,32'`` or ``'2x3x32x32'`` -> ``(2, 3, 32, 32)``."""
    if not re.fullmatch(r"\s*\d+(\s*[,x]\s*\d+)*\s*", text):
        raise Fx2MlxError(
            f"malformed --input-shape {text!r}: expected positive integers separated by commas,"
            " e.g. --input-shape 1,3,224,224"
        )
    dims = tuple(int(d) for d in re.split(r"[,x]", text.replace(" ", "")))
    if any(d <= 0 for d in dims):
        raise Fx2MlxError(f"malformed --input-shape {text!r}: sizes must be positive")
    return dims


def parse_dtype(text: str) -> torch.dtype:
    key = text.strip().lower().replace("torch.", "")
    if key not in DTYPES:
        raise Fx2MlxError(f"unknown --input-dtype {text!r}; choose one of {', '.join(DTYPES)}")
    return DTYPES[key]


def make_inputs(shapes: list[str], dtypes: list[str], seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random example inputs: one per ``--input-shape``, dtypes matched by position."""
    if dtypes and len(dtypes) not in (1, len(shapes)):
        raise Fx2MlxError(
            f"got {len(dtypes)} --input-dtype for {len(shapes)} --input-shape; give one per"
            " input, or a single one for all"
        )
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, text in enumerate(shapes):
        shape = parse_shape(text)
        dtype = (
            parse_dtype(dtypes[i] if len(dtypes) > 1 else dtypes[0]) if dtypes else torch.float32
        )
        if dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(dtype))
        elif dtype == torch.bool:
            out.append(torch.rand(shape, generator=gen) > 0.5)
        else:
            out.append(torch.randint(0, 100, shape, generator=gen, dtype=dtype))
    return tuple(out)


def _import(module_name: str) -> Any:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise Fx2MlxError(f"cannot import module {module_name!r}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        raise Fx2MlxError(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from exc


def resolve_target(target: str) -> tuple[torch.nn.Module, tuple | None]:
    """``pkg.mod:attr`` -> (model, example inputs or None)."""
    if ":" not in target:
        raise Fx2MlxError(f"target {target!r} must look like package.module:attribute")
    module_name, attr = target.split(":", 1)
    obj: Any = _import(module_name)
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise Fx2MlxError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return _instantiate(obj, target)


def _instantiate(obj: Any, target: str) -> tuple[torch.nn.Module, tuple | None]:
    if isinstance(obj, torch.nn.Module):
        return obj, None
    if not callable(obj):
        raise Fx2MlxError(f"{target} is a {type(obj).__name__}, not a module, class or factory")
    try:
        made = obj()
    except Exception as exc:  # noqa: BLE001 - the user's factory failed
        raise Fx2MlxError(f"calling {target}() raised {type(exc).__name__}: {exc}") from exc
    if isinstance(made, torch.nn.Module):
        return made, None
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module):
        inputs = made[1]
        inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
        return made[0], inputs
    raise Fx2MlxError(
        f"{target}() returned a {type(made).__name__}; expected an nn.Module or"
        " (nn.Module, example_inputs)"
    )
