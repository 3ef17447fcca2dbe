"""TorchScript modules and archives, through the trace frontend."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.cli import main
from tests.helpers import assert_converts, assert_roundtrip


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm(self.conv(x)))
        return self.head(y.mean(-1))


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(6, 5, batch_first=True)
        self.out = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return self.out(y)


class Configured(nn.Module):
    """A config flag and a rate argument decide the path, as silero-vad's ``sr`` does."""

    def __init__(self, use_norm: bool) -> None:
        super().__init__()
        self.use_norm = use_norm
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.slow = nn.Linear(8, 2)
        self.fast = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor, rate: int) -> torch.Tensor:
        x = self.proj(x)
        if self.use_norm:
            x = self.norm(x)
        if rate == 16000:
            return self.fast(x)
        return self.slow(x)


class Streaming(nn.Module):
    """Keeps its last output between calls in an attribute, as streaming models do."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.state = torch.zeros(0)

    @torch.jit.export
    def reset(self) -> None:
        self.state = torch.zeros(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.state.numel() == 0:
            self.state = torch.zeros_like(x)
        y = self.proj(x + self.state)
        self.state = y
        return y


def _eval(model: nn.Module) -> nn.Module:
    with torch.no_grad():  # BatchNorm statistics away from the identity
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                buf.normal_()
    return model.eval()


def test_scripted_module_converts_with_its_state_keys(tmp_path: Path) -> None:
    model = _eval(ConvNet())
    scripted = torch.jit.script(model)
    x = torch.randn(2, 4, 16)
    conv = assert_converts(scripted, x, fresh=2)
    assert_roundtrip(scripted, conv, (x,), tmp_path / "out")  # sanitize takes its state_dict
    assert conv.report.frontend == "trace"
    assert set(conv.weights) == set(model.state_dict()) - {"norm.num_batches_tracked"}
    assert "class ConvNet(nn.Module)" in conv.source  # named after the scripted class


def test_traced_recurrent_module() -> None:
    model = Recurrent().eval()
    x = torch.randn(2, 7, 6)
    conv = assert_converts(torch.jit.trace(model, x), x, fresh=2)
    assert conv.report.frontend == "trace"


@pytest.mark.parametrize("use_norm", [True, False])
def test_flag_and_bound_rate_are_specialized(use_norm: bool) -> None:
    scripted = torch.jit.script(Configured(use_norm).eval())
    x = torch.randn(3, 8)
    fast = assert_converts(fx2mlx.bind(scripted, rate=16000), x)
    slow = assert_converts(fx2mlx.bind(scripted, rate=8000), x)
    assert "bound rate=16000: the model is converted for these values only" in fast.report.warnings
    assert "fast" in str(sorted(fast.weights)) and "slow" in str(sorted(slow.weights))
    assert ("norm" in str(sorted(fast.weights))) == use_norm


def test_value_reads_inside_torchscript_are_reported() -> None:
    @torch.jit.script
    def clip(x: torch.Tensor) -> torch.Tensor:
        if bool(x.sum() > 0):
            return x * 2
        return x

    class Model(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return clip(x) + 1

    conv = assert_converts(Model(), torch.ones(2, 3), frontend="trace", fresh=0)
    reads = [w for w in conv.report.warnings if "read a tensor value" in w]
    assert len(reads) == 1 and "aten::item read a tensor value (1 time) under " in reads[0]
    assert "return clip(x) + 1 (inside TorchScript" in reads[0]


def test_streaming_state_is_reported_and_restored() -> None:
    scripted = torch.jit.script(Streaming().eval())
    x = torch.randn(2, 4)
    fx2mlx.convert(scripted, x, frontend="trace")
    assert scripted.state.numel() == 0  # the capture left the model as it found it
    conv = assert_converts(fx2mlx.bind(scripted, reset="reset"), x, fresh=2)
    (note,) = [w for w in conv.report.warnings if w.startswith("TorchScript: ")]
    assert "forward assigns state" in note and "keeps no state between calls" in note
    assert any(w.startswith("reset() runs before every call") for w in conv.report.warnings)


def test_bind_a_python_model_through_export(tmp_path: Path) -> None:
    model, x = fx2mlx.bind(Configured(True).eval(), rate=8000), torch.randn(3, 8)
    conv = assert_converts(model, x)
    assert_roundtrip(model, conv, (x,), tmp_path / "out")  # the bound model's own keys
    assert conv.report.frontend == "export"
    assert "bound rate=8000: the model is converted for these values only" in conv.report.warnings
    assert "slow" in str(sorted(conv.weights)) and "fast" not in str(sorted(conv.weights))


def test_unbound_non_tensor_argument_says_to_bind_it() -> None:
    scripted = torch.jit.script(Configured(True).eval())
    with pytest.raises(fx2mlx.Fx2MlxError) as err:
        fx2mlx.convert(scripted, torch.randn(3, 8))
    assert str(err.value) == (
        "[fx2mlx] forward(x: Tensor, rate: int) needs rate besides the 1 example input(s): bind"
        " it with fx2mlx.bind(model, rate=...) (on the command line: --bind rate=...)"
    )


def test_bind_refuses_a_missing_reset_method() -> None:
    with pytest.raises(fx2mlx.Fx2MlxError, match="no such method"):
        fx2mlx.bind(torch.jit.script(ConvNet()), reset="reset_states")


def test_archive_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "net.jit"
    torch.jit.save(torch.jit.script(_eval(ConvNet())), str(path))
    out = tmp_path / "out"
    assert main(["convert", str(path), "-o", str(out), "--input-shape", "2,4,16"]) == 0
    assert "class ConvNet(nn.Module)" in (out / "model.py").read_text()
    assert "frontend trace" in capsys.readouterr().out


def test_archive_with_an_argument_bound_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "configured.jit"
    torch.jit.save(torch.jit.script(_eval(Configured(True))), str(path))
    out = tmp_path / "out"
    args = ["convert", str(path), "-o", str(out), "--input-shape", "3,8", "--bind", "rate=16000"]
    assert main(args) == 0
    source = (out / "model.py").read_text()
    assert "--bind rate=16000" in source and "self.fast" in source and "self.slow" not in source
    assert "bound rate=16000" in capsys.readouterr().err + source


@pytest.mark.parametrize("spec", ["rate", "rate=", "1x=3", "rate=sixteen"])
def test_bad_bind_options_are_clear_errors(spec: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["convert", "net.jit", "-o", "out", "--bind", spec]) == 2
    assert "--bind takes NAME=VALUE with a Python literal value" in capsys.readouterr().err


def test_pickled_checkpoints_are_never_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "net.pt"
    torch.save(ConvNet(), str(path))  # a pickle: loading it would run arbitrary code
    assert main(["convert", str(path), "-o", str(tmp_path / "o"), "--input-shape", "2,4,16"]) == 2
    assert "is not a TorchScript archive" in capsys.readouterr().err


def _silero() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("silero-vad is not installed (pip install silero-vad)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.jit"


@pytest.mark.parametrize("rate,samples", [(16000, 512), (8000, 256)])
def test_silero_vad_archive(rate: int, samples: int, tmp_path: Path) -> None:
    """The archive silero-vad ships: scripted, streaming, branching on ``sr``."""
    vad = torch.jit.load(str(_silero()))
    model = fx2mlx.bind(vad, sr=rate, reset="reset_states")
    x = torch.randn(2, samples)
    conv = assert_converts(model, x, fresh=2)
    assert_roundtrip(model, conv, (x,), tmp_path / "out")  # the archive's keys
    assert conv.report.frontend == "trace"
    assert any("forward assigns _context" in w for w in conv.report.warnings)
    assert any("aten::equal read a tensor value" in w for w in conv.report.warnings)
    classes = {"STFT", "SileroVadBlock", "VADDecoderRNNJIT", "VADRNNJIT", "VADRNNJITMerge"}
    assert classes <= set(conv.report.classes)  # the archive's module hierarchy


def test_silero_vad_archive_from_the_command_line(tmp_path: Path) -> None:
    archive, out = str(_silero()), tmp_path / "vad"
    args = ["convert", archive, "-o", str(out), "--input-shape", "1,512"]
    assert main([*args, "--bind", "sr=16000", "--reset", "reset_states", "-q"]) == 0
    source = (out / "model.py").read_text()
    assert "--bind sr=16000 --reset reset_states" in source
