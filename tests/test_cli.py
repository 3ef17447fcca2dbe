"""The command line: targets, inputs, exit codes, errors, --check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fx2mlx.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def run(*args: str) -> int:
    return main(list(args))


def test_convert_factory_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fx2mlx.json", "model.py", "model.safetensors"]
    manifest = json.loads((out / "fx2mlx.json").read_text())
    assert manifest["report"]["validation"]["ok"] is True
    assert manifest["report"]["transposes"] == 1
    assert manifest["report"]["dynamic_dims"] == ["x.shape[0]"]
    assert "max abs err" in capsys.readouterr().out


def test_convert_class_and_instance_with_input_shape(tmp_path: Path) -> None:
    for target in ("tests.fixtures.models:Tiny", "tests.fixtures.models:tiny_instance"):
        out = tmp_path / target.split(":")[1]
        assert run("convert", target, "-o", str(out), "--input-shape", "3,3,8,8") == 0


@pytest.mark.parametrize(
    "target, message",
    [
        ("tests.fixtures.models:missing", "has no attribute 'missing'"),
        ("tests.fixtures.nope:Tiny", "cannot import module"),
        ("tests.fixtures.models:not_a_module", "expected an nn.Module"),
        ("tests.fixtures.models", "must look like"),
    ],
)
def test_bad_targets(
    target: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert run("convert", target, "-o", str(out), "--input-shape", "1,3") == 2
    err = capsys.readouterr().err
    assert err.startswith("[fx2mlx]") and message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("shape", ["1,a,3", "2,,3", "0,3", "1;3"])
def test_malformed_input_shape(shape: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        run(
            "convert",
            "tests.fixtures.models:Tiny",
            "-o",
            str(tmp_path / "o"),
            "--input-shape",
            shape,
        )
        == 2
    )
    assert "malformed --input-shape" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_missing_inputs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run("convert", "tests.fixtures.models:Tiny", "-o", str(tmp_path / "o")) == 2
    assert "--input-shape" in capsys.readouterr().err


def test_untraceable_model_reports_both_frontends(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "o"
    assert (
        run(
            "convert", "tests.fixtures.models:DataDependent", "-o", str(out), "--input-shape", "2,3"
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "- export:" in err and "- fx:" in err and "models.py" in err
    assert not out.exists()


def test_unsupported_ops_reported_together(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "o"
    assert (
        run(
            "convert",
            "tests.fixtures.models:UsesUnsupported",
            "-o",
            str(out),
            "--input-shape",
            "2,3",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "aten.histc.default x2" in err and "aten.special_erfinv" in err
    assert "models.py" in err and "hint:" in err
    assert not out.exists()


def test_refuses_foreign_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out)) == 2
    assert "did not write" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # not even --force replaces a folder without fx2mlx's manifest (see test_output_safety.py)
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out), "--force") == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_rewrites_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out)) == 0
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out)) == 0


def test_check_detects_drift(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "o"
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out)) == 0
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out), "--check") == 0
    model_py = out / "model.py"
    model_py.write_text(model_py.read_text().replace("nn.relu", "nn.gelu"))
    capsys.readouterr()
    assert run("convert", "tests.fixtures.models:make_tiny", "-o", str(out), "--check") == 1
    text = capsys.readouterr().out
    assert "-" in text and "+" in text and "nn.relu" in text and "drift" in text


def test_dict_outputs_and_two_inputs(tmp_path: Path) -> None:
    assert (
        run(
            "convert",
            "tests.fixtures.models:ReturnsDict",
            "-o",
            str(tmp_path / "o"),
            "--input-shape",
            "2,3",
            "--input-shape",
            "2,5",
        )
        == 0
    )


def test_module_entry_point_runs_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fx2mlx.cli",
            "convert",
            "tests.fixtures.models:missing",
            "-o",
            str(tmp_path / "o"),
            "--input-shape",
            "1,3",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_mismatch_exits_1_writes_files_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "o"
    # zero tolerance: float32 rounding differences alone count as a mismatch
    code = run(
        "convert", "tests.fixtures.models:make_tiny", "-o", str(out), "--rtol", "0", "--atol", "0"
    )
    assert code == 1
    assert (out / "model.py").exists()
    manifest = json.loads((out / "fx2mlx.json").read_text())
    assert manifest["report"]["validation"]["ok"] is False
    assert "beyond tolerance" in capsys.readouterr().err
