"""The generated ``load()``: ``compile=True`` and contiguous ``sanitize`` output."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.examples.transformer import make_transformer
from fx2mlx.tensors import to_mlx
from fx2mlx.validate import compare, load_generated, run_both


class ConvHead(nn.Module):
    """Conv, BatchNorm (random running stats), pooling and a Linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, groups=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)
        with torch.no_grad():
            self.bn.running_mean.normal_()
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.normal_()
            self.bn.bias.normal_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def _check(model: nn.Module, generated: object, inputs: tuple) -> None:
    expected, got = run_both(model, generated, inputs)
    checks = compare(expected, got, rtol=1e-4, atol=1e-3)
    assert checks and all(c.ok for c in checks), checks


def test_compiled_load_matches_eager_at_two_batch_sizes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, inputs = ConvHead().eval(), (torch.randn(2, 3, 8, 8),)
    fx2mlx.convert(model, inputs).save(tmp_path)
    eager = load_generated(tmp_path)
    compiled = load_generated(tmp_path, compile=True)
    # still the module (each load_generated imports the file anew: compare class names)
    assert [c.__name__ for c in type(compiled).__mro__[1:]] == [
        c.__name__ for c in type(eager).__mro__
    ]
    assert len(compiled.parameters()) == len(eager.parameters())
    for batch in (2, 5, 1):
        fresh = fx2mlx.random_inputs(inputs, batch=batch, seed=batch)
        _check(model, compiled, fresh)
        args = [to_mlx(x) for x in fresh]
        assert mx.allclose(compiled(*args), eager(*args), rtol=1e-5, atol=1e-6).item()
        assert mx.allclose(compiled(x=args[0]), eager(*args), rtol=1e-5, atol=1e-6).item()
    assert "outputs=model.state" not in (tmp_path / "model.py").read_text()  # no state to keep


def test_compiled_transformer(tmp_path: Path) -> None:
    """A model with attention and an integer input, compiled at two batch sizes."""
    model, inputs = make_transformer()
    fx2mlx.convert(model, inputs).save(tmp_path)
    compiled = load_generated(tmp_path, compile=True)
    for batch in (inputs[0].shape[0], 3):
        _check(model, compiled, fx2mlx.random_inputs(inputs, batch=batch, seed=batch))


def test_compiled_model_sees_new_weights(tmp_path: Path) -> None:
    """The state is an input of the compiled function: weights loaded later are used."""
    model, inputs = ConvHead().eval(), (torch.randn(2, 3, 8, 8),)
    fx2mlx.convert(model, inputs).save(tmp_path)
    compiled = load_generated(tmp_path, compile=True)
    _check(model, compiled, inputs)
    other = ConvHead().eval()
    raw = {k: to_mlx(v) for k, v in other.state_dict().items()}
    compiled.load_weights(list(compiled.sanitize(raw).items()), strict=True)
    _check(other, compiled, inputs)


def test_sanitize_returns_contiguous_arrays() -> None:
    """A strided view (a moved conv axis) would make every conv copy its weight per call."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.ConvTranspose2d(4, 2, 3, groups=2))
    inputs = (torch.randn(1, 3, 8, 8),)
    conv = fx2mlx.convert(model.eval(), inputs)
    namespace: dict[str, object] = {}
    exec(compile(conv.source, "model.py", "exec"), namespace)  # noqa: S102 - our own output
    top = namespace[type(conv.model).__name__]()  # type: ignore[operator]
    raw = {k: to_mlx(v) for k, v in model.state_dict().items()}
    sanitized = top.sanitize(raw)
    mx.eval(sanitized)
    moved = [k for k, v in raw.items() if v.ndim == 4]
    assert moved and all(memoryview(sanitized[f"layers.{k}"]).c_contiguous for k in moved)
    assert not memoryview(mx.moveaxis(raw[moved[0]], 1, -1)).c_contiguous  # the check can fail


def test_compiled_model_returning_a_dict(tmp_path: Path) -> None:
    """A Hugging Face model's output (a dict) out of the compiled function, two batch sizes."""
    pytest.importorskip("transformers")
    from fx2mlx.examples.zoo import make_bert_tiny

    model, inputs = make_bert_tiny()
    fx2mlx.convert(model, inputs).save(tmp_path)
    compiled = load_generated(tmp_path, compile=True)
    for batch in (2, 3):
        _check(model, compiled, fx2mlx.random_inputs(inputs, batch=batch, seed=batch))
