"""The generated ``sanitize``: maps a raw PyTorch state_dict, drops only what it knows to drop,
and leaves every other key for strict loading to name."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.examples.resnet import make_resnet18

from ..helpers import assert_converts, assert_roundtrip


class Partial(nn.Module):
    """An unused head and non-persistent buffers: PyTorch keys the MLX model has no use for."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)  # never called
        self.register_buffer("pos", torch.arange(4).float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.pos


def _top(conv: fx2mlx.Conversion) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(conv.source, "model.py", "exec"), namespace)  # noqa: S102 - our own output
    return namespace[type(conv.model).__name__]()


def _raw(model: nn.Module) -> dict[str, mx.array]:
    return {k: mx.array(v.numpy()) for k, v in model.state_dict().items()}


def _load(conv: fx2mlx.Conversion, weights: dict[str, mx.array]) -> Any:
    top = _top(conv)
    top.load_weights(list(top.sanitize(weights).items()), strict=True)
    return top.eval()


def _sanitize_def(source: str) -> ast.FunctionDef:
    defs = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)]
    return next(d for d in defs if d.name == "sanitize")


def test_unknown_keys_reach_strict_loading() -> None:
    model, inputs = make_resnet18()
    conv = fx2mlx.convert(model, inputs)
    weights = {**_raw(model), "fc.extra": mx.zeros((2,))}
    with pytest.raises(ValueError, match=r"fc\.extra"):
        _load(conv, weights)


def test_known_keys_are_skipped_with_their_reason() -> None:
    model = Partial().eval()
    x = torch.randn(2, 4)
    conv = fx2mlx.convert(model, (x,))
    # an older checkpoint that still saved the buffer loads too
    top = _load(conv, {**_raw(model), "pos": mx.arange(4)})
    with torch.no_grad():
        expected = model(x).numpy()
    assert np.abs(np.array(top(mx.array(x.numpy()))) - expected).max() <= 1e-5
    assert "# in PyTorch's state_dict, never read by forward()" in conv.source
    assert "# buffers PyTorch doesn't save (older checkpoints may hold them)" in conv.source
    skipped = next(
        n.value
        for n in ast.walk(_sanitize_def(conv.source))
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "skipped"
    )
    assert ast.literal_eval(skipped) == ("head.bias", "head.weight", "pos")


def test_sequential_root_with_batchnorm_loads_strict() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    model[1].running_mean.uniform_()
    x = torch.randn(1, 3, 8, 8)
    conv = fx2mlx.convert(model, (x,))
    top = _load(conv, _raw(model))
    got = np.array(top(mx.array(x.numpy())))
    with torch.no_grad():
        expected = model(x).numpy()
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
    with pytest.raises(ValueError, match="stray"):
        _load(conv, {**_raw(model), "stray": mx.zeros((1,))})


def test_identity_sanitize_is_one_line() -> None:
    model = nn.Linear(4, 3).eval()
    conv = fx2mlx.convert(model, (torch.randn(2, 4),))
    body = _sanitize_def(conv.source).body
    assert len(body) == 2 and ast.unparse(body[1]) == "return weights", ast.unparse(body[1])
    _load(conv, _raw(model))


class BandMasks(nn.Module):
    """Non-persistent boolean band masks, as GPT-Neo registers them: global (causal) and
    local (a sliding window of 3)."""

    def __init__(self) -> None:
        super().__init__()
        causal = torch.tril(torch.ones(6, 6, dtype=torch.bool)).view(1, 1, 6, 6)
        self.register_buffer("causal", causal, persistent=False)
        self.register_buffer("local", causal ^ torch.tril(causal, -3), persistent=False)
        self.fc = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.fc(x)[:, None]  # (batch, 1, 6, 6)
        causal = scores.masked_fill(~self.causal, -1e4)
        return causal + scores.masked_fill(~self.local, -1e4).softmax(-1)


def test_band_masks_are_rebuilt_not_parameters(tmp_path: Path) -> None:
    """sanitize can't fill a non-persistent buffer from a PyTorch checkpoint: a mask is
    rebuilt from mx.tril/mx.triu in __init__ instead of being a parameter."""
    model = BandMasks().eval()
    conv = assert_converts(model, torch.randn(2, 6, 6))
    assert "mx.tril(mx.ones((6, 6), dtype=mx.bool_)).reshape(1, 1, 6, 6)" in conv.source
    assert "mx.triu(mx.ones((6, 6), dtype=mx.bool_), -2)" in conv.source
    assert set(conv.weights) == {"fc.weight", "fc.bias"}
    assert_roundtrip(model, conv, (torch.randn(2, 6, 6),), tmp_path / "out")
