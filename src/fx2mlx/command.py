"""The canonical regenerate command that ``model.py`` shows, and the literal one it doesn't.

``model.py`` must depend only on what the conversion determines, or ``--check`` reports drift
for ``-o ./out`` vs ``-o out``, reordered flags, another working directory or another
``--rtol``. So the file shows a canonical command: the target and only the options that change
the output, normalized, in a fixed order, with the output folder as a placeholder. The command
exactly as typed (and where) goes to the manifest only.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .target import DTYPES, parse_dtype, parse_shape

OUT = "OUT"  # the placeholder for the output folder
OUT_NOTE = "OUT: the folder that holds this file"

Options = Mapping[str, Any]  # argparse ``dest`` -> value, as ``vars(args)`` gives them


def _shapes(options: Options) -> list[str]:
    words: list[str] = []
    for text in options.get("input_shape") or []:
        words += ["--input-shape", ",".join(str(d) for d in parse_shape(text))]
    return words


def _dtype_name(text: str) -> str:
    dtype = parse_dtype(text)
    return next(name for name, d in DTYPES.items() if d == dtype)  # the table's first spelling


def _dtypes(options: Options) -> list[str]:
    """One dtype per input, or one for all; none when every input is float32 (the default).
    Without ``--input-shape`` the target's own inputs are used and dtypes don't apply."""
    shapes, given = options.get("input_shape") or [], options.get("input_dtype") or []
    if not shapes or not given:
        return []
    names = [_dtype_name(t) for t in given]
    names = names * len(shapes) if len(names) == 1 else names
    if len(set(names)) == 1:
        names = [] if names[0] == "float32" else names[:1]
    return [w for name in names for w in ("--input-dtype", name)]


def _dynamic(options: Options) -> list[str]:
    """One ``--dynamic NAME:DIMS`` per input, names and dims sorted."""
    from .capture.dynamic import parse_cli  # loads torch: only when the option is given

    given = options.get("dynamic") or []
    if not given:
        return []
    declared = parse_cli(given)
    return [
        w
        for name in sorted(declared)
        for w in ("--dynamic", f"{name}:{','.join(str(d) for d in sorted(set(declared[name])))}")
    ]


def _binds(options: Options) -> list[str]:
    """One ``--bind NAME=VALUE`` per argument, sorted, values as Python writes them."""
    from .capture.bound import parse_binds

    bound = parse_binds(options.get("bind") or [])
    return [w for name in sorted(bound) for w in ("--bind", f"{name}={bound[name]!r}")]


def _choice(flag: str, dest: str, default: str) -> Callable[[Options], list[str]]:
    def render(options: Options) -> list[str]:
        value = options.get(dest, default)
        return [] if value == default else [flag, str(value)]

    return render


def _shard_size(options: Options) -> list[str]:
    """``--shard-size BYTES`` when not the default: it decides which weight files exist."""
    from .shards import SHARD_BYTES

    size = options.get("shard_size") or SHARD_BYTES
    return [] if size == SHARD_BYTES else ["--shard-size", str(size)]


def _flag(flag: str, dest: str) -> Callable[[Options], list[str]]:
    return lambda options: [flag] if options.get(dest) else []


def _group_size(options: Options) -> list[str]:
    """Only when quantizing (it changes nothing otherwise), and only when not the default."""
    size = options.get("group_size", 64)
    return ["--group-size", str(size)] if options.get("quantize") and size != 64 else []


# The options that change model.py or the weights, in the order the command lists them (by
# argparse ``dest``). Every other option only steers this run (RUN_ONLY). A new option joins
# one of the two: a test fails on a convert option listed in neither.
OUTPUT_OPTIONS: dict[str, Callable[[Options], list[str]]] = {
    "input_shape": _shapes,
    "input_dtype": _dtypes,
    "frontend": _choice("--frontend", "frontend", "auto"),
    "dynamic": _dynamic,
    "bind": _binds,
    "reset": _choice("--reset", "reset", None),
    "channels_last_io": _flag("--channels-last-io", "channels_last_io"),
    "dtype": _choice("--dtype", "dtype", None),
    "quantize": _choice("--quantize", "quantize", None),
    "group_size": _group_size,
    "fold_batchnorm": _flag("--fold-batchnorm", "fold_batchnorm"),
    "shard_size": _shard_size,
}
# --input-range only picks the values of the example inputs, never what is generated
RUN_ONLY = frozenset(
    {"help", "target", "out", "rtol", "atol", "no_validate", "check", "force", "debug", "quiet"}
    | {"input_range"}
)


def regenerate_command(target: str, options: Options) -> str:
    """``fx2mlx convert TARGET [output options] -o OUT``, the same for every
    spelling of the same conversion (raises :class:`Fx2MlxError` on a malformed option)."""
    words = ["fx2mlx", "convert", target.strip()]
    for render in OUTPUT_OPTIONS.values():
        words += render(options)
    return f"{' '.join(shlex.quote(w) for w in words)} -o {OUT}"


def invocation(argv: Sequence[str]) -> dict[str, Any]:
    """The command exactly as typed and the folder it ran in: for the manifest only."""
    return {"argv": ["fx2mlx", *argv], "cwd": os.getcwd()}
