"""The ``fx2mlx`` command line's options: the parser of every subcommand, option types, exit
codes. ``cli.py`` runs the commands."""

from __future__ import annotations

import argparse
import math
import platform
from typing import Any, NoReturn

import mlx.core as mx
import torch

from . import __version__
from .capture import FRONTENDS
from .errors import Fx2MlxError
from .precision import BITS, DTYPES, GROUP_SIZES
from .shards import SHARD_BYTES

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2
EXIT_CODES = """exit codes:
  0  converted, and validated (or --check found no drift); analyze: the model converts
  1  outputs differ from PyTorch beyond tolerance (files are written), or --check found drift;
     debug: the conversion diverges (the report says where)
  2  an error: bad target or option, untraceable model, unsupported ops, output folder
     refused, an internal error, or no command given; nothing is written; analyze: the
     model is blocked (the report says by what)"""


class UsageError(Fx2MlxError):
    """A bad command line (argparse's own errors included)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors become ``[fx2mlx]`` messages (exit 2) like every other error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or math.isinf(value):  # `not >=` also rejects NaN
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def _size(text: str) -> int:
    """``5GB``, ``300MB``, ``4096``: a byte count (binary units)."""
    t = text.strip().upper()
    number = t.rstrip("KMGB")
    unit = t[len(number) :]
    if unit not in _UNITS or not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"not a size like 5GB, 300MB or 4096: {text!r}")
    return int(number) * _UNITS[unit]


def _version() -> str:
    mlx_version = getattr(mx, "__version__", "?")
    return (
        f"fx2mlx {__version__} (torch {torch.__version__}, mlx {mlx_version},"
        f" python {platform.python_version()})"
    )


_HELP: dict[str, Any] = {
    "epilog": EXIT_CODES,
    "formatter_class": argparse.RawDescriptionHelpFormatter,  # keeps the epilog's lines
}


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fx2mlx", description="PyTorch nn.Module -> readable MLX", **_HELP)
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{convert,analyze,debug,demo}")
    convert = sub.add_parser(
        "convert", help="convert a model and validate it against PyTorch", **_HELP
    )
    _convert_parser(convert)
    analyze = sub.add_parser(
        "analyze", help="what converting a model involves, without converting it", **_HELP
    )
    _analyze_parser(analyze)
    dbg = sub.add_parser(
        "debug", help="convert a model and find where it diverges from PyTorch", **_HELP
    )
    _debug_parser(dbg)
    d = sub.add_parser("demo", help="convert and validate the bundled example models", **_HELP)
    d.add_argument("-o", "--out", default="demo-out", help="output folder (one subfolder each)")
    d.add_argument(
        "--force", action="store_true", help="overwrite its own files there even if edited"
    )
    d.add_argument("--debug", action="store_true")
    return p


def _convert_parser(c: argparse.ArgumentParser) -> None:
    _target_and_inputs(c)
    c.add_argument("-o", "--out", required=True, help="output folder")
    c.add_argument("--frontend", default="auto", choices=list(FRONTENDS))
    c.add_argument("--channels-last-io", action="store_true", help="NHWC inputs and outputs")
    _tolerances(c)
    _precision_options(c)
    c.add_argument(
        "--fold-batchnorm",
        action="store_true",
        help="fold eval BatchNorm into the conv before it (the BatchNorm's keys disappear)",
    )
    c.add_argument(
        "--shard-size",
        type=_size,
        metavar="SIZE",
        default=SHARD_BYTES,
        help="weights above SIZE (default 5GB) go to shards with an index, as MLX's tools write",
    )
    c.add_argument("--no-validate", action="store_true", help="skip the torch comparison")
    c.add_argument(
        "--check",
        action="store_true",
        help="regenerate and diff against OUT instead of writing (exit 1 on drift)",
    )
    c.add_argument("--force", action="store_true", help="replace a folder fx2mlx did not write")
    c.add_argument(
        "-q", "--quiet", action="store_true", help="print only errors (no stages, table, notes)"
    )
    c.add_argument("--debug", action="store_true", help="show tracebacks")


def _tolerances(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--rtol", type=_tolerance, metavar="R", default=1e-4, help="relative (norm) error tolerance"
    )
    c.add_argument(
        "--atol",
        type=_tolerance,
        metavar="A",
        default=1e-3,
        help="max abs error / max(1, max|torch|)",
    )


def _debug_parser(d: argparse.ArgumentParser) -> None:
    _target_and_inputs(d)
    d.add_argument("--frontend", default="auto", choices=list(FRONTENDS))
    d.add_argument("--channels-last-io", action="store_true", help="NHWC inputs and outputs")
    _tolerances(d)
    d.add_argument("--json", action="store_true", help="print the findings as JSON on stdout")
    d.add_argument("-q", "--quiet", action="store_true", help="no stages, only the report")
    d.add_argument("--debug", action="store_true", help="show tracebacks")


def _precision_options(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--dtype",
        choices=list(DTYPES),
        default=None,
        help="write the weights in this dtype and make the model compute in it (validated"
        " against the float model, at the dtype's tolerance)",
    )
    c.add_argument(
        "--quantize",
        type=int,
        choices=list(BITS),
        metavar="BITS",
        default=None,
        help="store Linear/Embedding layers quantized with 4 or 8 bits per weight (MLX affine)",
    )
    c.add_argument(
        "--group-size",
        type=int,
        choices=list(GROUP_SIZES),
        default=64,
        help="weights sharing one scale and bias when quantizing (default 64)",
    )


def _analyze_parser(a: argparse.ArgumentParser) -> None:
    _target_and_inputs(a)
    a.add_argument(
        "--frontend",
        default="auto",
        choices=list(FRONTENDS),
        help="the frontend the verdict is about (export and fx are tried either way; trace"
        " when asked for or when both fail)",
    )
    _precision_options(a)
    a.add_argument("--json", action="store_true", help="print the analysis as JSON on stdout")
    a.add_argument("-q", "--quiet", action="store_true", help="no stages, only the report")
    a.add_argument("--debug", action="store_true", help="show tracebacks")


def _target_and_inputs(c: argparse.ArgumentParser) -> None:
    """The options ``convert`` and ``analyze`` share: which model, on which inputs."""
    c.add_argument(
        "target",
        help="module:attr or path/to/file.py:attr naming a module, a module class or a factory",
    )
    c.add_argument(
        "--input-shape",
        action="append",
        metavar="SHAPE",
        default=[],
        help="shape of one example input, e.g. 1,3,224,224; give it once per input, in"
        " forward()'s order",
    )
    c.add_argument(
        "--input-dtype",
        action="append",
        metavar="DTYPE",
        default=[],
        help="dtype of the input at the same position, e.g. float32, int64; once per input,"
        " or once for all (default float32)",
    )
    c.add_argument(
        "--input-range",
        action="append",
        metavar="LO,HI",
        default=[],
        help="LO,HI: integer inputs drawn from LO to HI-1 (default: what the model's embedding"
        " or one_hot accepts, else 0,100)",
    )
    c.add_argument(
        "--bind",
        action="append",
        metavar="NAME=VALUE",
        default=[],
        help="fix a non-tensor argument of forward(), e.g. sr=16000 (a Python literal); the"
        " model is converted for that value",
    )
    c.add_argument(
        "--reset",
        metavar="METHOD",
        default=None,
        help="a method of the model to call before every forward (a streaming model's"
        " reset_states), so torch and MLX compare from the same fresh state",
    )
    c.add_argument(
        "--dynamic",
        action="append",
        metavar="NAME:DIMS",
        default=[],
        help="dims of the input NAME (forward()'s parameter, or its position) the generated"
        " code takes at any size, e.g. x:2,3; the batch and token sequence are by default",
    )
