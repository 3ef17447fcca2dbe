"""The command line talks to its user: stages, baked-in sizes, help, hints, and errors that
blame the right party, all as ``[fx2mlx]`` messages."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import fx2mlx
from fx2mlx.cli import main
from fx2mlx.progress import ConsoleProgress

ROOT = Path(__file__).resolve().parents[1]
UX = "tests.fixtures.ux_models"
STAGES = ("load model", "capture", "passes", "emit", "weights", "validation", "write")


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def run(*args: str) -> int:
    return main(list(args))


def convert(target: str, out: Path, *extra: str) -> int:
    return run("convert", target, "-o", str(out), *extra)


# -- progress ------------------------------------------------------------------------------


def test_stages_print_as_they_start_and_their_time(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert convert("tests.fixtures.models:make_tiny", tmp_path / "o") == 0
    err = capsys.readouterr().err
    for stage in STAGES:
        start = err.index(f"[fx2mlx] {stage}...\n")
        assert re.search(rf"\[fx2mlx\] {stage} done in \d+\.\d\d s\n", err[start:]), err
    starts = [err.index(f"[fx2mlx] {stage}...") for stage in STAGES]
    assert starts == sorted(starts), "stages print in pipeline order"


def test_quiet_prints_nothing_but_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert convert("tests.fixtures.models:make_tiny", tmp_path / "o", "--quiet") == 0
    assert capsys.readouterr() == ("", "")
    assert convert(f"{UX}:make_bakes_length", tmp_path / "b", "-q") == 0
    assert capsys.readouterr() == ("", "")  # no baked-in notes either
    assert convert("tests.fixtures.models:missing", tmp_path / "x", "-q") == 2
    assert capsys.readouterr().err.startswith("[fx2mlx] module")


def test_quiet_mismatch_still_shows_its_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = convert("tests.fixtures.models:make_tiny", tmp_path / "o", "-q", "--rtol", "0")
    assert code == 1
    out, err = capsys.readouterr()
    assert "max abs err" in out and "beyond tolerance" in err and "capture" not in err


def test_quiet_is_not_part_of_the_regenerate_command(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert convert("tests.fixtures.models:make_tiny", out, "-q") == 0
    assert "-q" not in (out / "model.py").read_text()
    assert convert("tests.fixtures.models:make_tiny", out, "--check") == 0


def test_api_is_silent(capsys: pytest.CaptureFixture) -> None:
    torch.manual_seed(0)
    conversion = fx2mlx.convert(torch.nn.Linear(3, 2), (torch.randn(2, 3),))
    assert conversion.validate().ok
    assert capsys.readouterr() == ("", "")


def test_progress_reaches_weights_and_validation_bars() -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(stream, bars=True, bar_delay=0.0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    conversion = fx2mlx.convert(model, (torch.randn(2, 3),), progress=progress)
    assert conversion.validate().ok  # the progress given to convert() is the default here
    text = stream.getvalue()
    assert "[fx2mlx] weights: " in text and "/4 [" in text, text  # four tensors
    assert "[fx2mlx] validation: " in text and "/2 [" in text, text  # two input sets
    assert "[fx2mlx] capture done in" in text


def test_bars_only_on_a_terminal_and_only_for_slow_loops() -> None:
    stream = io.StringIO()  # not a terminal
    assert list(ConsoleProgress(stream, bar_delay=0.0).track([1, 2], 2, "weights")) == [1, 2]
    assert stream.getvalue() == ""
    fast = ConsoleProgress(stream, bars=True, bar_delay=60.0)
    assert list(fast.track(range(3), 3, "weights")) == [0, 1, 2]
    assert stream.getvalue() == ""  # done before the bar's delay: no bar


# -- baked-in sizes ----------------------------------------------------------------------------


def test_baked_dims_are_printed_with_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "o"
    assert convert(f"{UX}:make_bakes_length", out) == 0
    err = capsys.readouterr().err
    m = re.search(
        r"\[fx2mlx\] baked in: input 0 \(x\) dim 1 = 12, model\.py line (\d+), from"
        r" ux_models\.py:(\d+)\n",
        err,
    )
    assert m, err
    generated = (out / "model.py").read_text().splitlines()
    assert "12 = x.shape[1] when traced" in generated[int(m.group(1)) - 1]
    user = (ROOT / "tests/fixtures/ux_models.py").read_text().splitlines()
    assert ".view(x.shape[0], 12, 2, 4)" in user[int(m.group(2)) - 1]


# -- help, version, usage errors ---------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        run("--version")
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"fx2mlx {fx2mlx.__version__} (torch ")


def test_bare_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert run() == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fx2mlx") and "convert" in err and "exit codes" in err


def test_help_lists_exit_codes_and_one_shape_per_input(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        run("convert", "--help")
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 converted" in text and " 1 outputs differ" in text
    assert " 2 an error" in text
    assert "--input-shape SHAPE shape of one example input" in text
    assert "once per input" in text and "--quiet" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["convert"], "the following arguments are required: target, -o/--out"),
        (["frob"], "invalid choice: 'frob'"),
        (["convert", "a:b", "-o", "o", "--bogus"], "unrecognized arguments: --bogus"),
        (["convert", "a:b", "-o", "o", "--input-shape"], "expected one argument"),
        (["convert", "a:b", "-o", "o", "--frontend", "jit"], "invalid choice: 'jit'"),
    ],
)
def test_argument_errors_are_fx2mlx_messages(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("[fx2mlx] ") and message in err and "--help" in err
    assert "usage:" not in err


def test_negative_input_shape_is_our_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert convert("tests.fixtures.models:Tiny", tmp_path / "o", "--input-shape", "-1,3") == 2
    assert capsys.readouterr().err.startswith("[fx2mlx] malformed --input-shape '-1,3'")


@pytest.mark.parametrize("flag", ["--rtol", "--atol"])
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-0.5", "abc"])
def test_bad_tolerances(
    flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert convert("tests.fixtures.models:make_tiny", tmp_path / "o", flag, value) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"[fx2mlx] argument {flag}: ") and repr(value) in err
    assert not (tmp_path / "o").exists()


def test_options_are_checked_before_the_users_code_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # importing this target would exit; the malformed shape is reported first
    code = convert("tests.fixtures.exits_on_import:X", tmp_path / "o", "--input-shape", "1,a")
    assert code == 2
    assert capsys.readouterr().err.startswith("[fx2mlx] malformed --input-shape '1,a'")


def test_check_against_a_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "model.py"
    path.write_text("# not a folder\n")
    assert convert("tests.fixtures.models:make_tiny", path, "--check") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"[fx2mlx] --check compares with an output folder, but {path} is a file")
    assert "capture" not in err  # said before any conversion work


# -- hints match the failure -------------------------------------------------------------------

CONTROL_FLOW = "branches or loops on tensor values"


def test_wrong_number_of_inputs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert convert(f"{UX}:TwoInputs", tmp_path / "o", "--input-shape", "2,3") == 2
    err = capsys.readouterr().err
    assert "[fx2mlx] forward(x, y) takes 2 inputs, got 1 example input(s)" in err
    assert "one --input-shape per input" in err
    assert CONTROL_FLOW not in err and "could not trace" not in err


def test_model_failing_on_its_inputs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert convert(f"{UX}:WrongWidth", tmp_path / "o", "--input-shape", "2,3") == 2
    err = capsys.readouterr().err
    assert "[fx2mlx] the model fails on these example inputs even without tracing" in err
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in err
    assert "ux_models.py" in err and "--input-shape" in err
    assert CONTROL_FLOW not in err


def test_data_dependent_control_flow(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = "tests.fixtures.models:DataDependent"
    assert convert(target, tmp_path / "o", "--input-shape", "2,3") == 2
    err = capsys.readouterr().err
    assert "could not trace" in err and f"hint: forward() {CONTROL_FLOW}" in err
    assert "torch.where" in err


def test_python_tracing_cannot_follow(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # the trace frontend records it (with the numpy read flagged): export alone can't
    args = ("--input-shape", "2,3", "--frontend", "export")
    assert convert(f"{UX}:UsesNumpy", tmp_path / "o", *args) == 2
    err = capsys.readouterr().err
    assert "could not trace" in err and "hint: forward() runs on these inputs" in err
    assert "numpy" in err and CONTROL_FLOW not in err


# -- the user's code exiting or interrupting ---------------------------------------------------


@pytest.mark.parametrize(
    "target, message",
    [
        ("tests.fixtures.exits_on_import:X", "importing 'tests.fixtures.exits_on_import' called"),
        (f"{UX}:exits_in_factory", f"calling {UX}:exits_in_factory() called sys.exit('no GPU"),
        (f"{UX}:ExitsInForward", "the model's code called sys.exit(4)"),
    ],
)
def test_sys_exit_in_user_code_is_reported(
    target: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert convert(target, tmp_path / "o", "--input-shape", "2,3") == 2
    err = capsys.readouterr().err
    assert err.startswith("[fx2mlx] ") and message in err and "internal error" not in err
    assert not (tmp_path / "o").exists()


def test_keyboard_interrupt_stays_an_interrupt(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        convert("tests.fixtures.interrupted_on_import:X", tmp_path / "o", "--input-shape", "1")


def test_missing_dependency_of_the_users_module(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert convert("tests.fixtures.needs_missing_dep:X", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "[fx2mlx] importing 'tests.fixtures.needs_missing_dep' failed: it imports" in err
    assert "'fx2mlx_no_such_dependency', which is not installed" in err


# -- path-style targets ------------------------------------------------------------------------

MODELS_PY = """
import torch
from helpers import width  # a sibling module: the file's folder must be on sys.path


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(width(), 2)

    def forward(self, x):
        return self.fc(x)


def make():
    torch.manual_seed(0)
    return Net(), (torch.randn(2, width()),)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    pkg = tmp_path / "proj" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "mymodels.py").write_text(MODELS_PY)
    (pkg / "helpers.py").write_text("def width():\n    return 3\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path / "proj"
    for name in [n for n in sys.modules if n in ("mymodels", "helpers") or "fx2mlx_target" in n]:
        del sys.modules[name]  # the next test's project has files of the same names


def test_path_targets(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert convert(f"{project}/pkg/mymodels.py:make", tmp_path / "a") == 0
    monkeypatch.chdir(project)
    assert convert("./pkg/mymodels.py:Net", tmp_path / "b", "--input-shape", "2,3") == 0
    assert "MLX port of mymodels.Net" in (tmp_path / "b" / "model.py").read_text()


@pytest.mark.parametrize(
    "target, message",
    [
        ("pkg/nope.py:Net", "[fx2mlx] target file pkg/nope.py does not exist"),
        ("./pkg:Net", "[fx2mlx] target file ./pkg is a folder, not a .py file"),
        (
            "pkg/mymodels.py:Nett",
            "file pkg/mymodels.py has no attribute 'Nett'; did you mean 'Net'?",
        ),
        (
            "pkg/mymodels.py:",
            "must look like package.module:attribute or path/to/file.py:attribute",
        ),
    ],
)
def test_bad_path_targets(
    target: str,
    message: str,
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.chdir(project)
    assert convert(target, tmp_path / "o", "--input-shape", "2,3") == 2
    err = capsys.readouterr().err
    assert err.startswith("[fx2mlx] ") and message in err
