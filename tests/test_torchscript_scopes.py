"""TorchScript modules keep their module hierarchy and their streaming state (issue 8)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.cli import main
from fx2mlx.examples.mlp import make_mlp
from fx2mlx.examples.resnet import ResNet
from fx2mlx.examples.transformer import make_transformer
from fx2mlx.examples.vad import make_vad
from fx2mlx.validate import load_generated
from tests.helpers import assert_converts, assert_roundtrip


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.proj(x))) + x


class Nested(nn.Module):
    """Two lists of the same class: their instances must keep their own paths."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.ModuleList([Block(8), Block(8)])
        self.dec = nn.ModuleList([Block(8)])
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.enc:
            x = block(x)
        for block in self.dec:
            x = block(x) * 2
        return self.head(x)


class Repeated(nn.Module):
    """One submodule called on each pass of a loop TorchScript keeps (``prim::Loop``)."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.cell = Block(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.steps):
            x = self.cell(x) * 0.5
        return x


class Wrapper(nn.Module):
    """Python code around a ScriptModule: hooks for this one, TorchScript's scopes inside."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.jit.script(Nested())
        self.out = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.body(x)))


class Flagged(nn.Module):
    """A config flag TorchScript compiles in: the generated code follows the flag's value."""

    def __init__(self, use_norm: bool) -> None:
        super().__init__()
        self.use_norm = use_norm
        self.proj = nn.Linear(5, 5)
        self.norm = nn.LayerNorm(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        if self.use_norm:
            x = self.norm(x)
        return x


class Streaming(nn.Module):
    """Keeps its last output between calls, created on the first call (as silero-vad's)."""

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
        y = torch.tanh(self.proj(x + self.state))
        self.state = y
        return y * 2


class OnesState(nn.Module):
    """State that starts at ones: no zeros can stand for it, so it is captured as constant."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.total = torch.ones(2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.total = self.total + x
        return self.proj(self.total)


def _classes(source: str) -> list[str]:
    return re.findall(r"^class (\w+)\(", source, re.M)


def _randomized(model: nn.Module) -> nn.Module:
    with torch.no_grad():  # norms away from the identity
        for name, param in model.named_parameters():
            if "norm" in name:
                param.normal_()
    return model.eval()


@pytest.mark.parametrize("kind", ["script", "trace"])
def test_nested_hierarchy(kind: str, tmp_path: Path) -> None:
    model, x = _randomized(Nested()), torch.randn(3, 8)
    ts = torch.jit.script(model) if kind == "script" else torch.jit.trace(model, x)
    conv = assert_converts(ts, x, fresh=2)
    assert_roundtrip(ts, conv, (x,), tmp_path / "out")  # the state keys load strictly
    assert conv.report.classes["Block"] == 3 and conv.report.classes["Nested"] == 1
    # torch.nn layers come back as MLX layers: from a script's constants, a trace's ops
    assert _classes(conv.source) == ["Block", "Nested"]
    assert "self.proj = nn.Linear(8, 8)" in conv.source


@pytest.mark.parametrize("kind", ["script", "trace"])
def test_configured_activations(kind: str) -> None:
    """Layers whose settings a trace doesn't keep (a slope, an approximation) stay exact."""
    model = nn.Sequential(
        nn.Linear(4, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6), nn.GELU("tanh"), nn.Softmax(0)
    ).eval()
    x = torch.randn(3, 4)
    ts = torch.jit.script(model) if kind == "script" else torch.jit.trace(model, x)
    conv = assert_converts(ts, x, fresh=2)
    assert "negative_slope=0.2" in conv.source and "gelu_approx" in conv.source


def test_submodule_called_in_a_loop() -> None:
    scripted = torch.jit.script(_randomized(Repeated(3)))
    assert "prim::Loop" in str(scripted.forward.graph)
    conv = assert_converts(scripted, torch.randn(2, 6), fresh=2)
    assert _classes(conv.source) == ["Block", "Repeated"]


def test_script_inside_python_code(tmp_path: Path) -> None:
    model, x = _randomized(Wrapper()), torch.randn(2, 8)
    conv = assert_converts(model, x, fresh=2)
    assert_roundtrip(model, conv, (x,), tmp_path / "out")
    assert conv.report.frontend == "trace"
    assert _classes(conv.source) == ["Block", "Nested", "Wrapper"]


@pytest.mark.parametrize("use_norm", [True, False])
def test_config_flag(use_norm: bool) -> None:
    conv = assert_converts(torch.jit.script(_randomized(Flagged(use_norm))), torch.randn(2, 5))
    assert ("self.norm = nn.LayerNorm(5)" in conv.source) == use_norm


def _script(model: nn.Module, inputs: tuple) -> nn.Module:
    return torch.jit.script(model)


def _trace(model: nn.Module, inputs: tuple) -> nn.Module:
    # torch's own check re-traces and compares graphs: a transformer's differ (fast path)
    return torch.jit.trace(model, inputs, check_trace=False)


@pytest.mark.parametrize("make", [make_mlp, make_vad, make_transformer])
@pytest.mark.parametrize("wrap", [_script, _trace])
def test_bundled_examples(make: Callable, wrap: Callable) -> None:
    model, inputs = make()
    eager = set(_classes(fx2mlx.convert(model, inputs).source))
    conv = assert_converts(wrap(model, inputs), inputs, fresh=1)
    assert set(_classes(conv.source)) == eager


@pytest.mark.parametrize("wrap", [_script, _trace])
def test_resnet_has_one_block_class(wrap: Callable) -> None:
    torch.manual_seed(0)
    model, x = ResNet((1, 1, 1, 1), 10).eval(), torch.randn(2, 3, 32, 32)
    conv = assert_converts(wrap(model, (x,)), x)
    assert _classes(conv.source) == _classes(fx2mlx.convert(model, x).source)
    assert conv.report.classes["BasicBlock"] == 4  # downsample optional, as for eager


def _run(model: object, chunk: torch.Tensor) -> np.ndarray:
    return np.array(model(mx.array(chunk.numpy())))  # type: ignore[operator]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_streaming_state_is_kept_between_calls(tmp_path: Path, compiled: bool) -> None:
    """Also under ``load(compile=True)``: the state is the compiled function's output too."""
    scripted = torch.jit.script(Streaming().eval())
    conv = fx2mlx.convert(scripted, torch.randn(2, 4))
    assert conv.validate().ok  # the step: example and random state
    assert scripted.state.numel() == 0  # conversion left the torch model as it found it
    assert any("forward keeps state between calls (state)" in w for w in conv.report.warnings)
    conv.save(tmp_path / "out")
    generated = load_generated(tmp_path / "out", compile=compiled)
    assert "def reset_states(self) -> None:" in conv.source
    assert "inputs=model.state, outputs=model.state" in conv.source
    chunks = [torch.randn(2, 4) for _ in range(4)]
    for _ in range(2):  # a stream, then a new one after the resets
        for chunk in chunks:
            with torch.no_grad():
                want = scripted(chunk).numpy()
            np.testing.assert_allclose(_run(generated, chunk), want, rtol=1e-5, atol=1e-6)
        scripted.reset()
        generated.reset_states()


def test_a_step_without_its_state_is_a_clear_error() -> None:
    conv = fx2mlx.convert(torch.jit.script(Streaming().eval()), torch.randn(2, 4))
    with pytest.raises(fx2mlx.Fx2MlxError, match=r"followed by the state \(state\)"):
        conv.validate([torch.randn(2, 4)])


def test_state_that_does_not_start_at_zero_stays_constant() -> None:
    scripted = torch.jit.script(OnesState().eval())
    conv = fx2mlx.convert(scripted, torch.randn(2, 4))
    assert "reset_states" not in conv.source
    assert any("captured as the values they held at capture" in w for w in conv.report.warnings)


def _silero() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("silero-vad is not installed (pip install silero-vad)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.jit"


def _audio(samples: int, chunks: int, seed: int) -> list[torch.Tensor]:
    """Chunks of a signal with voiced-like stretches (harmonics) between quiet noise."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(samples * chunks) / 16000
    voiced = (torch.sin(2 * torch.pi * 140 * t) + 0.5 * torch.sin(2 * torch.pi * 420 * t)) * (
        torch.sin(2 * torch.pi * 3 * t) > 0
    )
    signal = 0.3 * voiced + 0.02 * torch.randn(2, samples * chunks, generator=gen)
    return list(signal.split(samples, dim=1))


SILERO_CLASSES = {"STFT", "SileroVadBlock", "VADDecoderRNNJIT", "VADRNNJIT", "VADRNNJITMerge"}


@pytest.mark.parametrize("rate,samples", [(16000, 512), (8000, 256)])
def test_silero_vad_streams(rate: int, samples: int, tmp_path: Path) -> None:
    """silero-vad's archive as its users call it: chunk after chunk, state carried."""
    torch_vad = torch.jit.load(str(_silero()))
    conv = fx2mlx.convert(
        fx2mlx.bind(torch.jit.load(str(_silero())), sr=rate), _audio(samples, 1, 0)[0]
    )
    assert conv.validate().ok  # one step, on the example and on random state
    assert SILERO_CLASSES <= set(_classes(conv.source))
    assert conv.report.classes["SileroVadBlock"] == 4
    conv.save(tmp_path / "out")
    generated = load_generated(tmp_path / "out")  # strict load: the state is no weight
    for seed in (1, 2):  # two streams, each from a reset
        torch_vad.reset_states()
        generated.reset_states()
        for chunk in _audio(samples, 6, seed):
            with torch.no_grad():
                want = torch_vad(chunk, rate).numpy()
            np.testing.assert_allclose(_run(generated, chunk), want, rtol=1e-4, atol=1e-5)


def test_silero_vad_stream_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "vad"
    args = ["convert", str(_silero()), "-o", str(out), "--input-shape", "1,512"]
    assert main([*args, "--bind", "sr=16000", "-q"]) == 0
    source = (out / "model.py").read_text()
    assert "def reset_states(self) -> None:" in source
    assert "context: mx.array | None = None, state: mx.array | None = None" in source
