"""Resolving ``module:attr`` targets and building example inputs from the command line."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .archive import is_archive_target, load_archive
from .errors import Fx2MlxError
from .index_range import index_bounds
from .tensors import random_tensor

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
    # integers are zeros until their range is known
    inputs = [random_tensor(shape, dtype, gen, 0, 1) for shape, dtype in specs]
    picked = _int_ranges(model, inputs, given)
    notes = []
    for i, (lo, hi, why) in sorted(picked.items()):
        dtype = str(inputs[i].dtype).replace("torch.", "")
        notes.append(f"input {i} ({dtype}): integers in [{lo}, {hi}) {why}")
        inputs[i] = random_tensor(inputs[i].shape, inputs[i].dtype, gen, lo, hi)
    return tuple(inputs), notes


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
        missing = exc.name or ""
        if missing and missing != module_name and not module_name.startswith(missing + "."):
            # the module exists; something it imports does not
            raise Fx2MlxError(
                f"importing {module_name!r} failed: it imports {missing!r}, which is not installed"
            ) from exc
        raise Fx2MlxError(f"cannot import module {module_name!r}: {exc}") from exc
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's module failed
        raise _user_error(exc, f"importing {module_name!r}") from exc


def _user_error(exc: BaseException, what: str) -> Fx2MlxError:
    """The user's code failed while fx2mlx ran ``what``; ``sys.exit`` is such a failure too."""
    if isinstance(exc, SystemExit):  # a script's top-level code (argparse, sys.exit) ran
        return Fx2MlxError(
            f"{what} called sys.exit({exc.code!r}); guard script code with"
            ' `if __name__ == "__main__":`'
        )
    return Fx2MlxError(f"{what} raised {type(exc).__name__}: {exc}")


def _import_file(path_text: str) -> Any:
    """Import a ``.py`` file by path, its folder first on ``sys.path`` so its imports work."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        what = "is a folder, not a .py file" if path.is_dir() else "does not exist"
        raise Fx2MlxError(f"target file {path_text} {what}")
    path = path.resolve()
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    name = _module_name(path)
    if name in sys.modules:  # imported before (by another target or by the file's own imports)
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise Fx2MlxError(f"cannot import {path_text}: not a Python source file")
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        _run_user_code(lambda: loader.exec_module(module), f"importing {path_text}")
    except Fx2MlxError:
        sys.modules.pop(name, None)
        raise
    return module


def _module_name(path: Path) -> str:
    """The file's stem, unless a different module already goes by that name."""
    loaded = sys.modules.get(path.stem)
    if path.stem.isidentifier() and (
        loaded is None or getattr(loaded, "__file__", None) == str(path)
    ):
        return path.stem
    return "fx2mlx_target_" + re.sub(r"\W", "_", path.stem)  # don't shadow a module in use


def _run_user_code(fn: Callable[[], Any], what: str) -> Any:
    """Call ``fn``, reporting its exceptions and ``sys.exit`` as the user's (``what`` failed)."""
    try:
        return fn()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - KeyboardInterrupt stays an interrupt
        raise _user_error(exc, what) from exc


def _is_path(module_part: str) -> bool:
    return module_part.endswith(".py") or "/" in module_part or os.sep in module_part


def _attribute(module: Any, attr: str, where: str) -> Any:
    """``module.a.b`` for ``attr='a.b'``, with a close-match suggestion when missing."""
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            close = difflib.get_close_matches(part, [n for n in dir(obj) if not n.startswith("_")])
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise Fx2MlxError(f"{where} has no attribute {attr!r}{hint}")
        obj = getattr(obj, part)
    return obj


def resolve_target(target: str) -> tuple[torch.nn.Module, tuple | None]:
    """``pkg.mod:attr``, ``path/to/file.py:attr`` or a TorchScript archive ``model.jit`` ->
    (model, example inputs or None)."""
    if is_archive_target(target):
        return load_archive(target), None
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise Fx2MlxError(
            f"target {target!r} must look like package.module:attribute or"
            " path/to/file.py:attribute (or a TorchScript archive: path/to/model.jit)"
        )
    if _is_path(module_part):
        module, where = _import_file(module_part), f"file {module_part}"
    else:
        module, where = _import(module_part), f"module {module_part!r}"
    return _instantiate(_attribute(module, attr, where), target)


def _instantiate(obj: Any, target: str) -> tuple[torch.nn.Module, tuple | None]:
    if isinstance(obj, torch.nn.Module):
        return obj, None
    if not callable(obj):
        raise Fx2MlxError(f"{target} is a {type(obj).__name__}, not a module, class or factory")
    made = _run_user_code(obj, f"calling {target}()")
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
