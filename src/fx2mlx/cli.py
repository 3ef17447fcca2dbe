"""The ``fx2mlx`` command line: ``convert``, ``analyze``, ``debug`` and ``demo``."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import Conversion, convert
from .analyze import analyze
from .analyze_report import render
from .capture.bound import bind, parse_binds
from .capture.dynamic import parse_cli
from .cli_args import EXIT_ERROR, EXIT_MISMATCH, EXIT_OK, UsageError, _parser
from .command import invocation, regenerate_command
from .demo import run_demo
from .errors import Fx2MlxError, InternalError, internal_message
from .output import check_target
from .progress import SILENT, ConsoleProgress, Progress
from .report import baked_lines
from .shards import INDEX, SHARD_BYTES, plan
from .target import make_inputs, parse_dtype, parse_shape, resolve_target


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


def _model_and_inputs(args: argparse.Namespace, progress: Progress) -> tuple[Any, tuple]:
    """The target's model (``--bind``/``--reset`` applied) and its example inputs."""
    with progress.stage("load model"):
        model, factory_inputs = resolve_target(args.target)
    model = _bound(args, model)
    return model, _inputs(args, model, factory_inputs)


def _convert(
    args: argparse.Namespace, model: Any, inputs: tuple, progress: Progress, **options: Any
) -> Conversion:
    """``convert`` with the capture options ``convert`` and ``debug`` share."""
    return convert(
        model,
        inputs,
        frontend=args.frontend,
        dynamic=parse_cli(args.dynamic) if args.dynamic else None,
        channels_last_io=args.channels_last_io,
        command=regenerate_command(args.target, vars(args)),
        progress=progress,
        **options,
    )


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


def _check_precision_options(args: argparse.Namespace) -> None:
    if args.group_size != 64 and args.quantize is None:
        raise UsageError("--group-size applies to --quantize's groups; add --quantize 4 or 8")


def _early_checks(args: argparse.Namespace, out: Path) -> None:
    """Option errors caught before the user's code is imported or anything is converted."""
    _check_input_options(args)
    _check_precision_options(args)
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
    model, inputs = _model_and_inputs(args, progress)
    with _no_warnings():
        conversion = _convert(
            args,
            model,
            inputs,
            progress,
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
    _check_precision_options(args)
    progress = SILENT if args.quiet or args.json else ConsoleProgress(sys.stderr)
    model, inputs = _model_and_inputs(args, progress)
    with _no_warnings():
        command = regenerate_command(args.target, vars(args))  # model.py's lines as convert's
        analysis = analyze(
            model,
            inputs,
            frontend=args.frontend,
            dynamic=parse_cli(args.dynamic) if args.dynamic else None,
            command=command,
            progress=progress,
            dtype=args.dtype,
            quantize=args.quantize,
            group_size=args.group_size,
        )
    print(json.dumps(analysis.to_json(), indent=2) if args.json else render(analysis))
    return EXIT_OK if analysis.converts else EXIT_ERROR


def cmd_debug(args: argparse.Namespace) -> int:
    """Convert, then compare module by module; exit 1 if the conversion diverges."""
    _check_input_options(args)
    progress = SILENT if args.quiet or args.json else ConsoleProgress(sys.stderr)
    model, inputs = _model_and_inputs(args, progress)
    with _no_warnings():
        conversion = _convert(args, model, inputs, progress)
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
