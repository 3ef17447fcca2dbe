"""The ``fx2mlx`` command line: ``convert`` and ``demo``."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

from .errors import Fx2MlxError

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fx2mlx", description="PyTorch nn.Module -> readable MLX")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="convert a model and validate it against PyTorch")
    c.add_argument("target", help="module:attr naming a module, a module class or a factory")
    c.add_argument("-o", "--out", required=True, help="output folder")
    c.add_argument("--input-shape", action="append", default=[], help="e.g. 1,3,224,224")
    c.add_argument("--input-dtype", action="append", default=[], help="e.g. float32, int64")
    c.add_argument("--frontend", default="auto", choices=["auto", "export", "fx"])
    c.add_argument("--channels-last-io", action="store_true", help="NHWC inputs and outputs")
    c.add_argument("--rtol", type=float, default=1e-4, help="relative (norm) error tolerance")
    c.add_argument("--atol", type=float, default=1e-3, help="max abs error / max(1, max|torch|)")
    c.add_argument("--no-validate", action="store_true", help="skip the torch comparison")
    c.add_argument(
        "--check",
        action="store_true",
        help="regenerate and diff against OUT instead of writing (exit 1 on drift)",
    )
    c.add_argument("--force", action="store_true", help="replace a folder fx2mlx did not write")
    c.add_argument("--debug", action="store_true", help="show tracebacks")
    d = sub.add_parser("demo", help="convert and validate the bundled example models")
    d.add_argument("-o", "--out", default="demo-out", help="output folder (one subfolder each)")
    d.add_argument("--debug", action="store_true")
    return p


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Tracing prints warnings and progress of its own; keep the user's terminal readable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _inputs(args: argparse.Namespace, factory_inputs: tuple | None) -> tuple:
    from .target import make_inputs

    if args.input_shape:
        return make_inputs(args.input_shape, args.input_dtype)
    if factory_inputs is not None:
        return factory_inputs
    raise Fx2MlxError(
        f"{args.target} gives no example inputs: pass --input-shape (one per input), or make"
        " the target a factory returning (model, example_inputs)"
    )


def cmd_convert(args: argparse.Namespace, argv: list[str]) -> int:
    from . import convert
    from .command import invocation, regenerate_command
    from .output import check_target
    from .target import resolve_target

    out = Path(args.out)
    if not args.check:
        check_target(out, args.force)
    model, factory_inputs = resolve_target(args.target)
    inputs = _inputs(args, factory_inputs)
    with _quiet():
        conversion = convert(
            model,
            inputs,
            frontend=args.frontend,
            channels_last_io=args.channels_last_io,
            command=regenerate_command(args.target, vars(args)),
        )
    conversion.record_invocation(invocation(argv))
    for note in conversion.report.warnings:
        print(f"[fx2mlx] warning: {note}", file=sys.stderr)
    if args.check:
        return _check(conversion, out)
    status = EXIT_OK
    if not args.no_validate:
        with _quiet():
            result = conversion.validate(rtol=args.rtol, atol=args.atol)
        print(result.table())
        if not result.ok:
            status = EXIT_MISMATCH
    conversion.save(out, force=args.force)
    report = conversion.report
    print(
        f"[fx2mlx] wrote {out}/model.py, model.safetensors, fx2mlx.json "
        f"({report.transposes} transposes, frontend {report.frontend})"
    )
    if status == EXIT_MISMATCH:
        print(
            "[fx2mlx] outputs differ from PyTorch beyond tolerance (see the table above)",
            file=sys.stderr,
        )
    return status


def _check(conversion: object, out: Path) -> int:
    """Compare a fresh conversion with the committed folder; print a unified diff."""
    files = conversion.files()  # type: ignore[attr-defined]
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
    print(
        "[fx2mlx] drift: regenerate with the same command without --check"
        if drift
        else f"[fx2mlx] {out} is up to date"
    )
    return EXIT_MISMATCH if drift else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "convert":
            return cmd_convert(args, argv)
        return cmd_demo(args)
    except Fx2MlxError as exc:
        if args.debug:
            traceback.print_exc()
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - never a bare traceback for users
        if args.debug:
            traceback.print_exc()
        print(
            f"[fx2mlx] internal error: {type(exc).__name__}: {exc}\n"
            "  (nothing was written; rerun with --debug for the traceback and please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
