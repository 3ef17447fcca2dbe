"""The regenerate command in ``model.py`` is canonical: ``--check`` does not depend on how the
command was spelled, only on what changes the output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fx2mlx.cli import _parser, main
from fx2mlx.command import OUTPUT_OPTIONS, RUN_ONLY, regenerate_command

TARGET = "tests.fixtures.models:make_tiny"
ROOT = Path(__file__).resolve().parents[1]


def _options(*argv: str) -> dict:
    return vars(_parser().parse_args(["convert", TARGET, "-o", "x", *argv]))


def test_every_convert_option_is_classified() -> None:
    """A new option must say whether it changes the output (then the command shows it)."""
    sub = next(a for a in _parser()._actions if a.dest == "cmd")
    convert = sub.choices["convert"]  # type: ignore[union-attr]
    dests = {a.dest for a in convert._actions}
    assert not set(OUTPUT_OPTIONS) & RUN_ONLY
    assert dests <= set(OUTPUT_OPTIONS) | RUN_ONLY, dests - set(OUTPUT_OPTIONS) - RUN_ONLY


@pytest.mark.parametrize(
    "argv, words",
    [
        ([], ""),
        (["--input-shape", "2x3 x8,8"], "--input-shape 2,3,8,8"),
        (["--input-shape", "2,3", "--input-dtype", "float"], "--input-shape 2,3"),
        (
            ["--input-shape", "2,3", "--input-dtype", "torch.long"],
            "--input-shape 2,3 --input-dtype int64",
        ),
        (
            [
                "--input-shape",
                "2",
                "--input-shape",
                "3",
                "--input-dtype",
                "long",
                "--input-dtype",
                "int64",
            ],
            "--input-shape 2 --input-shape 3 --input-dtype int64",
        ),
        (
            [
                "--input-shape",
                "2",
                "--input-shape",
                "3",
                "--input-dtype",
                "long",
                "--input-dtype",
                "half",
            ],
            "--input-shape 2 --input-shape 3 --input-dtype int64 --input-dtype float16",
        ),
        (["--input-dtype", "int64"], ""),  # without shapes the factory's inputs are used
        (["--frontend", "auto", "--rtol", "0.5", "--check", "--force"], ""),
        (["--channels-last-io", "--frontend", "fx"], "--frontend fx --channels-last-io"),
    ],
)
def test_canonical_command(argv: list[str], words: str) -> None:
    command = regenerate_command(TARGET, _options(*argv))
    middle = f" {words}" if words else ""
    assert command == f"fx2mlx convert {TARGET}{middle} -o OUT"


def _convert(cwd: Path, *argv: str) -> int:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return main(["convert", *argv])
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder, written by one spelling; every variant below checks against it."""
    base = tmp_path_factory.mktemp("spelling")
    assert _convert(base, TARGET, "-o", "out", "--input-shape", "2,3,8,8", "--no-validate") == 0
    return base


def test_manifest_keeps_the_literal_command(written: Path) -> None:
    manifest = json.loads((written / "out" / "fx2mlx.json").read_text())
    assert manifest["invocation"] == {
        "argv": [
            "fx2mlx",
            "convert",
            TARGET,
            "-o",
            "out",
            "--input-shape",
            "2,3,8,8",
            "--no-validate",
        ],
        "cwd": str(written),
    }
    source = (written / "out" / "model.py").read_text()
    assert "Regenerate with (OUT: the folder that holds this file):\n" in source
    assert f"    fx2mlx convert {TARGET} --input-shape 2,3,8,8 -o OUT\n" in source
    assert str(written) not in source and "--no-validate" not in source


@pytest.mark.parametrize(
    "where, argv",
    [
        (".", ["-o", "./out", "--input-shape", "2,3,8,8"]),
        (".", ["-o", "{abs}/out", "--input-shape", "2,3,8,8"]),
        (".", ["--input-shape", "2x3x8x8", "-o", "out"]),
        ("sub", ["-o", "../out", "--input-shape", "2, 3, 8, 8"]),
        (".", ["-o", "out", "--input-shape", "2,3,8,8", "--rtol", "0.5", "--atol", "1"]),
        (".", ["-o", "out", "--input-shape", "2,3,8,8", "--frontend", "auto"]),
        (".", ["-o", "out", "--input-shape", "2,3,8,8", "--input-dtype", "float"]),
    ],
)
def test_spelling_does_not_drift(written: Path, where: str, argv: list[str]) -> None:
    cwd = written / where
    cwd.mkdir(exist_ok=True)
    argv = [a.replace("{abs}", str(written)) for a in argv]
    assert _convert(cwd, "--check", TARGET, *argv) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--input-shape", "1,3,8,8"],
        ["--input-shape", "2,3,8,8", "--frontend", "fx"],
        ["--input-shape", "2,3,8,8", "--channels-last-io"],
    ],
)
def test_real_changes_drift(written: Path, argv: list[str]) -> None:
    assert _convert(written, TARGET, "-o", "out", "--check", *argv) == 1


def test_golden_regenerate_command_reproduces_it(tmp_path: Path) -> None:
    """The command a golden shows runs, and writes exactly that file."""
    golden = (ROOT / "golden" / "mlp" / "model.py").read_text()
    lines = golden.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("Regenerate with"))
    argv = lines[at + 1].strip().removeprefix("fx2mlx ").split()
    assert argv[-2:] == ["-o", "OUT"]
    assert _convert(tmp_path, *argv[1:-1], "out", "--no-validate") == 0
    assert (tmp_path / "out" / "model.py").read_text() == golden
