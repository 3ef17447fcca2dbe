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


# why an integer input is drawn from 0..99
DEFAULT_WHY = (
    "by default: no embedding, one_hot or indexing uses it directly; pass --input-range LO,HI"
    " if the model needs another range"
)


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


def parse_range(text: str) -> tuple[int, int]:
    """``'0,1000'`` -> ``(0, 1000)``: values from 0 up to 999, as Python's ``range``."""
    match = re.fullmatch(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*", text)
    if not match:
        raise Fx2MlxError(
            f"malformed --input-range {text!r}: expected two integers LO,HI, e.g. --input-range"
            " 0,1000 (values from LO up to HI-1; write --input-range=-5,5 when LO is negative)"
        )
    lo, hi = int(match[1]), int(match[2])
    if lo >= hi:
        raise Fx2MlxError(
            f"bad --input-range {text!r}: need LO < HI (values are drawn from LO up to HI-1)"
        )
    return lo, hi


def _per_input(values: list[str], count: int, flag: str) -> list[str | None]:
    """One value per input: given once per input, once for all, or not at all."""
    if values and len(values) not in (1, count):
        raise Fx2MlxError(
            f"got {len(values)} {flag} for {count} --input-shape; give one per input, or a"
            " single one for all"
        )
    return list(values) if len(values) == count else [values[0] if values else None] * count


def _is_int(dtype: torch.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def make_inputs(
    shapes: list[str],
    dtypes: list[str],
    seed: int = 0,
    ranges: list[str] | None = None,
    model: torch.nn.Module | None = None,
) -> tuple[tuple[torch.Tensor, ...], list[str]]:
    """Random example inputs, one per ``--input-shape``, and a note on each integer input's range.

    Integer inputs take ``--input-range`` (once per input or once for all); otherwise the range
    an embedding, ``one_hot`` or indexing in ``model`` accepts; otherwise 0..99.
    """
    kinds = [
        parse_dtype(d) if d else torch.float32
        for d in _per_input(dtypes, len(shapes), "--input-dtype")
    ]
    specs = [(parse_shape(s), d) for s, d in zip(shapes, kinds)]
    given = _given_ranges(ranges or [], kinds)
    gen = torch.Generator().manual_seed(seed)
    inputs = [_random(shape, dtype, gen) for shape, dtype in specs]
    picked = _int_ranges(model, inputs, given)
    notes = []
    for i, (lo, hi, why) in sorted(picked.items()):
        dtype = str(inputs[i].dtype).replace("torch.", "")
        notes.append(f"input {i} ({dtype}): integers in [{lo}, {hi}) {why}")
        inputs[i] = torch.randint(lo, hi, inputs[i].shape, generator=gen, dtype=inputs[i].dtype)
    return tuple(inputs), notes


def _random(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    """Floats from a normal, booleans fair coins, integers zero (until their range is known)."""
    if dtype.is_floating_point:
        return torch.randn(shape, generator=gen).to(dtype)
    if dtype == torch.bool:
        return torch.rand(shape, generator=gen) > 0.5
    return torch.zeros(shape, dtype=dtype)


def _given_ranges(ranges: list[str], kinds: list[torch.dtype]) -> dict[int, tuple[int, int]]:
    """Input position -> ``--input-range``, checked against that input's dtype."""
    if not ranges:
        return {}
    if not any(_is_int(d) for d in kinds):
        raise Fx2MlxError("--input-range applies to integer inputs, and no --input-dtype is one")
    given = {}
    for i, text in enumerate(_per_input(ranges, len(kinds), "--input-range")):
        lo, hi = parse_range(text or "")
        if not _is_int(kinds[i]):
            if len(ranges) == 1:
                continue  # one range for all: it is meant for the integer inputs
            raise Fx2MlxError(f"--input-range applies to integer inputs; input {i} is {kinds[i]}")
        info = torch.iinfo(kinds[i])
        if lo < info.min or hi - 1 > info.max:
            name = str(kinds[i]).replace("torch.", "")
            raise Fx2MlxError(
                f"--input-range {lo},{hi} does not fit input {i}'s dtype {name}"
                f" ({info.min}..{info.max})"
            )
        given[i] = (lo, hi)
    return given


def _int_ranges(
    model: torch.nn.Module | None, inputs: list[torch.Tensor], given: dict[int, tuple[int, int]]
) -> dict[int, tuple[int, int, str]]:
    """Each integer input's ``(lo, hi, why)``: given, else inferred from ``model``, else 0..99."""
    bounds, failure = _probe(model, inputs)
    _check_given(given, bounds)
    picked = {i: (lo, hi, "from --input-range") for i, (lo, hi) in given.items()}
    for i, x in enumerate(inputs):
        if not _is_int(x.dtype) or i in given:
            continue
        if i in bounds:  # from 0: negative indices count from the end, a corner to avoid here
            high = min(bounds[i].high, torch.iinfo(x.dtype).max + 1)
            picked[i] = (0, max(high, 1), f"because {bounds[i].why}")
        else:
            picked[i] = (0, 100, DEFAULT_WHY + failure)
    return picked


def _probe(model: torch.nn.Module | None, inputs: list[torch.Tensor]) -> tuple[dict, str]:
    """Bounds the model puts on its integer inputs, or why they could not be found."""
    if model is None or not any(_is_int(x.dtype) for x in inputs):
        return {}, ""
    from .index_range import index_bounds

    try:
        return index_bounds(model, tuple(inputs)), ""
    except Exception as exc:  # noqa: BLE001 - the user's forward; capture will say more
        return {}, f" (running the model on zeros to find them raised {type(exc).__name__})"


def _check_given(given: dict[int, tuple[int, int]], bounds: dict) -> None:
    """An explicit range the model cannot take fails now, not as an IndexError in capture."""
    for i, (lo, hi) in given.items():
        bound = bounds.get(i)
        if bound is not None and (lo < bound.low or hi > bound.high):
            raise Fx2MlxError(
                f"--input-range {lo},{hi} goes outside [{bound.low}, {bound.high}), the values"
                f" input {i} can take because {bound.why}"
            )


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
