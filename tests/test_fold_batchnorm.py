"""``--fold-batchnorm``: eval BatchNorm folded into the conv before it, at conversion and in the
generated ``sanitize``; randomized running statistics and affine parameters (the default
init, mean 0 / var 1 / gamma 1 / beta 0, would hide a wrong fold)."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.cli import main
from fx2mlx.examples.resnet import make_resnet18
from fx2mlx.tensors import to_mlx
from fx2mlx.validate import load_generated

from .helpers import assert_converts, assert_roundtrip

BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 2 + 0.2)
            if m.affine:
                m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
                m.bias.data.copy_(torch.randn(m.num_features, generator=gen))
    return model.eval()


class ConvBn(nn.Module):
    def __init__(self, dims: int, bias: bool, groups: int, affine: bool) -> None:
        super().__init__()
        self.conv = CONV[dims](4, 6, 3, padding=1, bias=bias, groups=groups)
        self.bn = BN[dims](6, affine=affine, eps=1e-3)
        self.head = nn.Sequential(CONV[dims](6, 6, 1), BN[dims](6), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.conv(x))))


def _input(dims: int, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 4, *[6] * dims)


def assert_sanitize_matches(model: nn.Module, conv: fx2mlx.Conversion, folder: Path) -> None:
    """The generated ``sanitize`` of PyTorch's state_dict gives the saved file's arrays."""
    generated = load_generated(folder)
    raw = {k: to_mlx(v) for k, v in model.state_dict().items()}
    sanitized = generated.sanitize(raw)
    saved = mx.load(str(folder / "model.safetensors"))
    assert sorted(sanitized) == sorted(saved)
    for key, value in saved.items():
        np.testing.assert_allclose(np.array(sanitized[key]), np.array(value), rtol=1e-5, atol=1e-6)


def assert_folded(model: nn.Module, conv: fx2mlx.Conversion, inputs: tuple, folder: Path) -> None:
    """No BatchNorm left (layer, generated class or keys); the fold gave the conv a bias;
    the saved file and ``sanitize`` agree and both match torch."""
    assert "BatchNorm(" not in conv.source and "class BatchNorm" not in conv.source
    assert "BatchNorm3d()" not in conv.source and "--fold-batchnorm" in conv.source
    assert not any(".bn." in k or k.startswith("bn.") for k in conv.weights)
    assert "conv.bias" in conv.weights
    assert_roundtrip(model, conv, inputs, folder)
    assert_sanitize_matches(model, conv, folder)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_fold(dims: int, bias: bool, groups: int, affine: bool, tmp_path: Path) -> None:
    """Grouped Conv3d goes op by op (MLX's conv3d has no groups), BatchNorm3d always does
    (MLX's nn.BatchNorm takes 2-4 dims): the fold takes layers and ops alike."""
    torch.manual_seed(dims * 8 + groups * 4 + bias * 2 + affine)
    model = randomize(ConvBn(dims, bias, groups, affine))
    conv = assert_converts(model, _input(dims), fold_batchnorm=True, fresh=2)
    assert_folded(model, conv, (_input(dims, 3),), tmp_path)


class ConvTransposeBn(nn.Module):
    """A decoder step: upsampling transposed conv (stride, output_padding, dilation), then BN."""

    def __init__(self, dims: int, bias: bool, groups: int, affine: bool, padding: int = 1):
        super().__init__()
        self.conv = CONV_T[dims](
            4, 6, 3, 2, padding, output_padding=1, groups=groups, bias=bias, dilation=2
        )
        self.bn = BN[dims](6, affine=affine, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_fold_transposed(dims: int, bias: bool, groups: int, affine: bool, tmp_path: Path) -> None:
    """Weight (in, out / groups, *k): the scale runs along axis 1, group by group. Grouped
    ones go op by op (MLX's ConvTranspose layers have no groups)."""
    torch.manual_seed(dims * 8 + groups * 4 + bias * 2 + affine)
    model = randomize(ConvTransposeBn(dims, bias, groups, affine))
    x = torch.randn(2, 4, *[5] * dims)
    conv = assert_converts(model, x, fold_batchnorm=True, fresh=2)
    layer = f"nn.ConvTranspose{dims}d("
    assert (layer in conv.source) == (groups == 1)
    assert_folded(model, conv, (torch.randn(3, 4, *[4] * dims),), tmp_path)
    if groups > 1:
        assert "for conv, bn, eps, groups in (" in conv.source


def test_fold_transposed_cropped(tmp_path: Path) -> None:
    """Padding past the kernel's span: the op form pads by the span and crops the rest."""
    model = randomize(ConvTransposeBn(2, False, 1, True, padding=5))
    x = torch.randn(2, 4, 7, 7)
    conv = assert_converts(model, x, fold_batchnorm=True)
    assert "crop the rest" in conv.source and "nn.ConvTranspose2d(" not in conv.source
    assert_folded(model, conv, (x,), tmp_path)


def test_fold_circular_conv(tmp_path: Path) -> None:
    """A circular-padded conv is its module's pad and conv ops: the conv op folds."""
    model = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1, padding_mode="circular", bias=False))
    model.append(nn.BatchNorm2d(6))
    model = randomize(model)
    conv = assert_converts(model, _input(2), fold_batchnorm=True)
    assert "nn.BatchNorm" not in conv.source and "layers.0.bias" in conv.weights
    assert_roundtrip(model, conv, (_input(2),), tmp_path)
    assert_sanitize_matches(model, conv, tmp_path)


class Shared(nn.Module):
    """The conv's output is read by the BatchNorm and by the residual: no fold."""

    def __init__(self, dims: int = 2, transposed: bool = False) -> None:
        super().__init__()
        self.conv = (CONV_T if transposed else CONV)[dims](4, 4, 3, padding=1)
        self.bn = BN[dims](4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("dims", [2, 3])
def test_shared_output_keeps_batchnorm(dims: int, transposed: bool, tmp_path: Path) -> None:
    model = randomize(Shared(dims, transposed))
    conv = assert_converts(model, _input(dims), fold_batchnorm=True)
    kept = "self.bn = nn.BatchNorm(4)" if dims == 2 else "self.bn = BatchNorm3d()"
    assert kept in conv.source and "fold-batchnorm:" not in conv.source
    assert "bn.running_var" in conv.weights
    assert_roundtrip(model, conv, (_input(dims),), tmp_path)


def test_no_fold_without_the_option() -> None:
    model = randomize(ConvBn(2, True, 1, True))
    conv = assert_converts(model, _input(2))
    assert conv.source.count("nn.BatchNorm(") == 2 and "fold-batchnorm" not in conv.source


def test_resnet18_folded(tmp_path: Path) -> None:
    model, inputs = make_resnet18()
    model = randomize(model)
    conv = assert_converts(model, inputs, fold_batchnorm=True)
    assert "nn.BatchNorm" not in conv.source
    assert_roundtrip(model, conv, inputs, tmp_path)


def test_cli_option(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        main(
            ["convert", "fx2mlx.examples.resnet:make_resnet18", "--fold-batchnorm", "-o", str(out)]
        )
        == 0
    )
    source = (out / "model.py").read_text()
    assert "fx2mlx convert fx2mlx.examples.resnet:make_resnet18 --fold-batchnorm -o OUT" in source
    plain = fx2mlx.convert(*make_resnet18())
    assert "nn.BatchNorm" in plain.source and "nn.BatchNorm" not in source


def test_sequential_root(tmp_path: Path) -> None:
    """A top-level Sequential is held as ``self.layers``: sanitize folds PyTorch's own keys."""
    model = randomize(nn.Sequential(nn.Conv2d(4, 6, 3), nn.BatchNorm2d(6), nn.ReLU()))
    conv = assert_converts(model, _input(2), fold_batchnorm=True)
    assert "nn.BatchNorm" not in conv.source and '("0", "1", 1e-05)' in conv.source
    assert_roundtrip(model, conv, (_input(2),), tmp_path)


class SharedLayers(nn.Module):
    """One conv called twice (once before its BatchNorm), one BatchNorm called twice."""

    def __init__(self, dims: int = 2) -> None:
        super().__init__()
        self.conv = CONV[dims](4, 4, 3, padding=1)
        self.bn = BN[dims](4)
        self.other = CONV[dims](4, 4, 1)
        self.norm = BN[dims](4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.conv(x)) + self.conv(x * 2)
        return self.norm(self.other(y)) + self.norm(y)


@pytest.mark.parametrize("dims", [2, 3])
def test_layers_called_twice_are_not_folded(dims: int, tmp_path: Path) -> None:
    model = randomize(SharedLayers(dims))
    conv = assert_converts(model, _input(dims), fold_batchnorm=True)
    assert "fold-batchnorm:" not in conv.source
    assert {"bn.running_var", "norm.running_var"} <= set(conv.weights)
    assert_roundtrip(model, conv, (_input(dims),), tmp_path)


@pytest.mark.parametrize("frontend", ["fx", "trace"])
def test_fold_op_by_op_other_frontends(frontend: str, tmp_path: Path) -> None:
    """BatchNorm3d after a grouped Conv3d, BatchNorm2d after a grouped ConvTranspose2d: ops
    on both sides, as every frontend records them."""
    torch.manual_seed(3)
    model = randomize(ConvBn(3, False, 2, True))
    conv = assert_converts(model, _input(3), frontend=frontend, fold_batchnorm=True)
    assert_folded(model, conv, (_input(3),), tmp_path / "conv")
    model = randomize(ConvTransposeBn(2, False, 2, True))
    x = torch.randn(2, 4, 5, 5)
    conv = assert_converts(model, x, frontend=frontend, fold_batchnorm=True)
    assert_folded(model, conv, (x,), tmp_path / "transposed")


class Renamed(nn.Module):
    """Attributes MLX's ``nn.Module`` would shadow: the generated ones are ``update_`` and
    ``state_``; the bias the fold adds is renamed like the conv's other keys."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.update = nn.ConvTranspose2d(4, 6, 3, groups=groups, bias=False)
        self.state = nn.BatchNorm2d(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.state(self.update(x))


@pytest.mark.parametrize("groups", [1, 2])
def test_renamed_attributes(groups: int, tmp_path: Path) -> None:
    model = randomize(Renamed(groups))
    x = torch.randn(2, 4, 5, 5)
    conv = assert_converts(model, x, fold_batchnorm=True)
    assert sorted(conv.weights) == ["update_.bias", "update_.weight"]
    assert '"update.bias": "update_.bias"' in conv.source and '"state.' not in conv.source
    assert_roundtrip(model, conv, (x,), tmp_path)
    assert_sanitize_matches(model, conv, tmp_path)
