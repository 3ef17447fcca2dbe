"""The output contract: sanitize, standalone files, the Python API (determinism:
test_determinism.py)."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import torch

import fx2mlx
from fx2mlx.examples.resnet import make_resnet18
from fx2mlx.tensors import to_mlx
from fx2mlx.validate import load_generated

from .helpers import Lambda, assert_converts, assert_only_mlx_and_stdlib


def test_sanitize_loads_a_raw_torch_state_dict(tmp_path: Path) -> None:
    model, inputs = make_resnet18()
    conv = fx2mlx.convert(model, inputs)
    conv.save(tmp_path / "out")
    generated = load_generated(tmp_path / "out")
    fresh = type(generated)()
    raw = {k: mx.array(v.numpy()) for k, v in model.state_dict().items()}
    fresh.load_weights(list(fresh.sanitize(raw).items()), strict=True)
    fresh.eval()
    with torch.no_grad():
        expected = model(*inputs).numpy()
    got = np.array(fresh(to_mlx(inputs[0])))
    assert np.abs(got - expected).max() <= 1e-3 * max(1.0, np.abs(expected).max())


def test_generated_file_is_standalone(tmp_path: Path) -> None:
    model, inputs = make_resnet18()
    conv = fx2mlx.convert(model, inputs)
    assert_only_mlx_and_stdlib(conv.source)


def test_api_surface(tmp_path: Path) -> None:
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 2),
    )
    conv = fx2mlx.convert(model, torch.randn(2, 3, 16, 16))
    assert isinstance(conv.source, str) and "class Sequential(nn.Module)" in conv.source
    assert conv.report.transposes == 1 and conv.report.dynamic_batch
    result = conv.validate()
    assert result.ok and len(result.outputs) == 1
    out = conv.save(tmp_path / "o")
    assert (out / "model.py").read_text() == conv.source
    generated = load_generated(out)
    y = generated(mx.array(np.random.randn(4, 3, 16, 16).astype(np.float32)))
    assert y.shape == (4, 2)


def test_unsupported_error_lists_everything() -> None:
    from tests.fixtures.models import UsesUnsupported

    try:
        fx2mlx.convert(UsesUnsupported(), torch.randn(2, 3))
    except fx2mlx.UnsupportedError as exc:
        ops = {item.op: item.count for item in exc.items}
        assert ops == {"aten.histc.default": 2, "aten.special_erfinv.default": 1}
        assert str(exc).startswith("[fx2mlx]")
    else:
        raise AssertionError("expected UnsupportedError")


def test_one_tensor_given_as_two_inputs() -> None:
    """torch.export would capture one tensor passed twice as a single input; the generated
    model still takes (and is validated on) two independent arguments."""
    t = torch.randn(3, 4)
    conv = assert_converts(Lambda(lambda a, b: a * 2 + b.exp()), (t, t))
    assert "args_0: mx.array, args_1: mx.array" in conv.source
