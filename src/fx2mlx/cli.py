"""The ``fx2mlx`` command line: ``convert``, ``analyze``, ``debug`` and ``demo``."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import math
import platform
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import mlx.core as mx
import torch

from . import Conversion, __version__, convert
from .analyze import analyze
from .analyze_report import render
from .capture import FRONTENDS
from .capture.bound import bind, parse_binds
from .capture.dynamic import parse_cli
from .command import invocation, regenerate_command
from .demo import run_demo
from .errors import Fx2MlxError, InternalError, internal_message
from .output import check_target
from .precision import BITS, DTYPES, GROUP_SIZES
from .progress import SILENT, ConsoleProgress
from .report import baked_lines
from .shards import INDEX, SHARD_BYTES, plan
from .target import make_inputs, parse_dtype, parse_shape, resolve_target

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


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """Tracing prints warnings and progress of its own; keep the user's terminal readable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _bound(args: argparse.Namespace, model: Any) -> Any:
    """The model with ``--bind``/``--reset`` applied (as ``fx2mlx.bind``)."""
    if not args.bind and args.reset is None:
        return model
    return bind(model, reset=args.reset, **parse_binds(args.bind))


def _inputs(args: argparse.Namespace, model: object, factory_inputs: tuple | None) -> tuple:
    if args.input_shape:
        inputs, notes = make_inputs(
            args.input_shape, args.input_dtype, ranges=args.input_range, model=model
        )
        for note in notes:
            print(f"[fx2mlx] {note}", file=sys.stderr)
        return inputs
    if args.input_range:
        raise Fx2MlxError("--input-range applies to inputs built from --input-shape")
    if factory_inputs is not None:
        return factory_inputs
    raise Fx2MlxError(
        f"{args.target} gives no example inputs: pass --input-shape (one per input), or make"
        " the target a factory returning (model, example_inputs)"
    )


def _check_input_options(args: argparse.Namespace) -> None:
    """Malformed shapes and dtypes, found before the user's code is imported."""
    for text in args.input_shape:
        parse_shape(text)
    for text in args.input_dtype:
        parse_dtype(text)
    parse_cli(args.dynamic)
    parse_binds(args.bind)


def _early_checks(args: argparse.Namespace, out: Path) -> None:
    """Option errors caught before the user's code is imported or anything is converted."""
    _check_input_options(args)
    if args.group_size != 64 and args.quantize is None:
        raise UsageError("--group-size applies to --quantize's groups; add --quantize 4 or 8")
    if args.check and out.exists() and not out.is_dir():
        raise UsageError(
            f"--check compares with an output folder, but {out} is a file; pass the folder"
            " fx2mlx wrote (the -o of the original convert)"
        )


def cmd_convert(args: argparse.Namespace, argv: list[str]) -> int:
    out = Path(args.out)
    _early_checks(args, out)
    if not args.check:
        check_target(out, args.force)
    progress = SILENT if args.quiet else ConsoleProgress(sys.stderr)
    with progress.stage("load model"):
        model, factory_inputs = resolve_target(args.target)
    model = _bound(args, model)
    inputs = _inputs(args, model, factory_inputs)
    with _no_warnings():
        conversion = convert(
            model,
            inputs,
            frontend=args.frontend,
            dynamic=parse_cli(args.dynamic) if args.dynamic else None,
            channels_last_io=args.channels_last_io,
            command=regenerate_command(args.target, vars(args)),
            progress=progress,
            dtype=args.dtype,
            quantize=args.quantize,
            group_size=args.group_size,
            fold_batchnorm=args.fold_batchnorm,
        )
    conversion.record_invocation(invocation(argv))
    if not args.quiet:
        _print_notes(conversion)
    if args.check:
        return _check(conversion, out, args.quiet, args.shard_size)
    return _validate_and_save(conversion, args, out)


def _print_notes(conversion: Conversion) -> None:
    """Warnings and baked-in sizes: what the user must know about the generated code."""
    report = conversion.report
    for note in report.warnings:
        print(f"[fx2mlx] warning: {note}", file=sys.stderr)
    for layer, why in report.float_layers.items():
        print(f"[fx2mlx] not quantized, stays float: {layer} ({why})", file=sys.stderr)
    for line in baked_lines(report.baked_dims, conversion.source):
        print(f"[fx2mlx] {line}", file=sys.stderr)


def _validate_and_save(conversion: Conversion, args: argparse.Namespace, out: Path) -> int:
    status = EXIT_OK
    if not args.no_validate:
        with _no_warnings():
            result = conversion.validate(rtol=args.rtol, atol=args.atol)
        if not result.ok:
            status = EXIT_MISMATCH
        if not (args.quiet and result.ok):  # a mismatch shows its evidence even when quiet
            print(result.table())
        if result.finding:
            print(result.finding, file=sys.stderr)
    with conversion.progress.stage("write"):
        conversion.save(out, force=args.force, shard_bytes=args.shard_size)
    if not args.quiet:
        print(_wrote(conversion, out, args.shard_size))
    if status == EXIT_MISMATCH:
        print(
            "[fx2mlx] outputs differ from PyTorch beyond tolerance (see the table above)",
            file=sys.stderr,
        )
    return status


def _wrote(conversion: Conversion, out: Path, shard_bytes: int) -> str:
    shards = len(plan(conversion.weights, shard_bytes))
    weights = "model.safetensors" if shards == 1 else f"{shards} weight shards, {INDEX}"
    report = conversion.report
    return (
        f"[fx2mlx] wrote {out}/model.py, {weights}, fx2mlx.json "
        f"({report.transposes} transposes, frontend {report.frontend})"
    )


def _check(
    conversion: Conversion, out: Path, quiet: bool = False, shard_bytes: int = SHARD_BYTES
) -> int:
    """Compare a fresh conversion with the committed folder; print a unified diff."""
    files = conversion.files(shard_bytes)
    if not out.is_dir():
        print(f"[fx2mlx] {out} does not exist; nothing to check against", file=sys.stderr)
        return EXIT_MISMATCH
    drift = False
    for name, data in files.items():
        path = out / name
        old = path.read_bytes() if path.exists() else b""
        if old == data:
            continue
        drift = True
        if name.endswith(".py"):
            diff = difflib.unified_diff(
                old.decode(errors="replace").splitlines(True),
                data.decode().splitlines(True),
                f"{out}/{name} (committed)",
                f"{out}/{name} (regenerated)",
            )
            sys.stdout.writelines(diff)
        else:
            print(f"[fx2mlx] {out}/{name}: weights differ from a fresh conversion")
    if drift:
        print("[fx2mlx] drift: regenerate with the same command without --check")
    elif not quiet:
        print(f"[fx2mlx] {out} is up to date")
    return EXIT_MISMATCH if drift else EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    """Print the analysis (text, or JSON with ``--json``); exit 0 if the model converts."""
    _check_input_options(args)
    progress = SILENT if args.quiet or args.json else ConsoleProgress(sys.stderr)
    with progress.stage("load model"):
        model, factory_inputs = resolve_target(args.target)
    model = _bound(args, model)
    inputs = _inputs(args, model, factory_inputs)
    with _no_warnings():
        command = regenerate_command(args.target, vars(args))  # model.py's lines as convert's
        analysis = analyze(
            model,
            inputs,
            frontend=args.frontend,
            dynamic=parse_cli(args.dynamic) if args.dynamic else None,
            command=command,
            progress=progress,
        )
    print(json.dumps(analysis.to_json(), indent=2) if args.json else render(analysis))
    return EXIT_OK if analysis.converts else EXIT_ERROR


def cmd_debug(args: argparse.Namespace) -> int:
    """Convert, then compare module by module; exit 1 if the conversion diverges."""
    _check_input_options(args)
    progress = SILENT if args.quiet or args.json else ConsoleProgress(sys.stderr)
    with progress.stage("load model"):
        model, factory_inputs = resolve_target(args.target)
    model = _bound(args, model)
    inputs = _inputs(args, model, factory_inputs)
    with _no_warnings():
        conversion = convert(
            model,
            inputs,
            frontend=args.frontend,
            dynamic=parse_cli(args.dynamic) if args.dynamic else None,
            channels_last_io=args.channels_last_io,
            command=regenerate_command(args.target, vars(args)),
            progress=progress,
        )
        with progress.stage("debug"):
            result = conversion.debug(rtol=args.rtol, atol=args.atol)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.render())
    return EXIT_MISMATCH if result.diverges else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(Path(args.out), args.force)


_VALUED = ("--input-shape", "--input-range")


def _attach_values(argv: list[str]) -> list[str]:
    """``--input-shape -1,3`` -> ``--input-shape=-1,3``: argparse takes a value starting with
    ``-`` for an option and says only "expected one argument"; our own check says what's wrong."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _VALUED and arg[:1] == "-" and arg[1:2].isdigit():
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv:  # a usage error like any other missing argument: help, exit 2
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        args = parser.parse_args(_attach_values(argv))
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_ERROR
    return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the command; every failure becomes one ``[fx2mlx]`` message and exit 2."""
    try:
        if args.cmd == "convert":
            return cmd_convert(args, argv)
        if args.cmd == "analyze":
            return cmd_analyze(args)
        if args.cmd == "debug":
            return cmd_debug(args)
        return cmd_demo(args)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - never a bare traceback for users
        if args.debug:
            traceback.print_exception(exc)
        print(_message(exc, args.debug), file=sys.stderr)
        return EXIT_ERROR


def _message(exc: BaseException, debug: bool = False) -> str:
    if isinstance(exc, Fx2MlxError):
        return str(exc)
    if isinstance(exc, SystemExit):  # the user's code (forward, a hook) called sys.exit
        return f"[fx2mlx] the model's code called sys.exit({exc.code!r}) during conversion"
    text = str(exc) if isinstance(exc, InternalError) else internal_message(exc)
    if debug:
        return f"{text} (a bug in fx2mlx: please report it, with the traceback above)"
    return f"{text} (a bug in fx2mlx: rerun with --debug for the traceback, and please report it)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
