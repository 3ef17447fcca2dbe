"""A bug inside fx2mlx surfaces as one ``[fx2mlx] internal error`` line and exit 2 from every
subcommand, and as :class:`fx2mlx.InternalError` from the API; never as a bare traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import fx2mlx
from fx2mlx import pipeline
from fx2mlx.cli import main
from tests.fixtures.models import Tiny

ROOT = Path(__file__).resolve().parents[1]
TINY = "tests.fixtures.models:make_tiny"


class Injected(RuntimeError):
    """The bug the tests plant."""


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def broken_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass that crashes: every command runs the passes."""

    def collapse_layers(captured: object) -> list[str]:
        raise Injected("planted in collapse_layers\nsecond line")

    monkeypatch.setattr(pipeline, "collapse_layers", collapse_layers)


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "convert": lambda out: ["convert", TINY, "-o", str(out)],
    "analyze": lambda out: ["analyze", TINY],
    "demo": lambda out: ["demo", "-o", str(out)],
}
MESSAGE = "[fx2mlx] internal error: Injected: planted in collapse_layers"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_cli_reports_one_line_and_exit_2(
    command: str, broken_pass: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main(COMMANDS[command](out)) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "internal error" in line] == [
        f"{MESSAGE} (a bug in fx2mlx: rerun with --debug for the traceback, and please report it)"
    ]
    assert "Traceback" not in err and "second line" not in err
    assert not out.exists()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_debug_shows_the_traceback(
    command: str, broken_pass: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main([*COMMANDS[command](tmp_path / "out"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "in collapse_layers" in err
    assert err.rstrip().splitlines()[-1] == (
        f"{MESSAGE} (a bug in fx2mlx: please report it, with the traceback above)"
    )


def test_api_raises_internal_error(broken_pass: None) -> None:
    for call in (fx2mlx.convert, fx2mlx.analyze):
        with pytest.raises(fx2mlx.InternalError) as info:
            call(Tiny(), torch.randn(2, 3, 8, 8))
        assert str(info.value) == MESSAGE
        assert isinstance(info.value.__cause__, Injected)
        assert info.traceback[-1].name == "collapse_layers"  # down to where the bug raised
        assert not isinstance(info.value, fx2mlx.Fx2MlxError)  # a crash is never "unsupported"


def test_user_errors_stay_user_errors() -> None:
    """Only unexpected exceptions are wrapped: fx2mlx's own errors pass through as they are."""
    with pytest.raises(fx2mlx.Fx2MlxError, match="example_inputs must be"):
        fx2mlx.convert(Tiny(), "not a tensor")
    with pytest.raises(fx2mlx.Fx2MlxError, match="example_inputs must be"):
        fx2mlx.analyze(Tiny(), [])


def test_interrupt_is_not_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(captured: object) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "collapse_layers", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fx2mlx.convert(Tiny(), torch.randn(2, 3, 8, 8))
