"""float16/bfloat16 models, mixed precision, and ``dtype=`` (weights and compute in a half
type, validated against the float32 model at the dtype's tolerance)."""

from __future__ import annotations

import mlx.core as mx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx
from fx2mlx.compare import HALF_ULPS
from fx2mlx.examples.zoo import make_bert_tiny, make_gpt2_tiny
from fx2mlx.tensors import mlx_dtype

from .helpers import assert_converts

pytest.importorskip("transformers")

HALF = [torch.float16, torch.bfloat16]


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(16, 32), nn.Linear(32, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(F.gelu(self.a(x)))


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def _conv_net() -> tuple[nn.Module, tuple]:
    net = ConvNet()
    net.bn.running_mean.normal_()  # randomized statistics: the defaults hide a wrong norm
    net.bn.running_var.uniform_(0.5, 2.0)
    net.bn.weight.data.normal_()
    return net, (torch.randn(2, 3, 8, 8),)


SOURCES = {
    "mlp": lambda: (MLP(), (torch.randn(4, 16),)),
    "conv": _conv_net,
    "bert": make_bert_tiny,
}


def _cast(inputs: tuple, dtype: torch.dtype) -> tuple:
    return tuple(x.to(dtype) if x.is_floating_point() else x for x in inputs)


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_half_models_convert_in_their_dtype(name: str, dtype: torch.dtype) -> None:
    model, inputs = SOURCES[name]()
    conv = assert_converts(model.to(dtype), _cast(inputs, dtype), fresh=2)
    floats = [w for w in conv.weights.values() if mx.issubdtype(w.dtype, mx.floating)]
    assert floats and all(w.dtype == mlx_dtype(dtype) for w in floats)
    rows = conv.report.validation.outputs
    assert all(o.rtol == HALF_ULPS * torch.finfo(dtype).eps for o in rows if o.dtype != "int64")


class MixedNorms(nn.Module):
    """A bfloat16 model with float32 norms: a LayerNorm layer, a BatchNorm, a functional
    layer_norm with float32 parameters. torch returns bfloat16 from each."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3).bfloat16()
        self.bn, self.norm = nn.BatchNorm2d(8), nn.LayerNorm(8)
        self.w, self.b = nn.Parameter(torch.randn(8)), nn.Parameter(torch.randn(8))
        self.fc = nn.Linear(8, 4).bfloat16()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.bn(self.conv(x)).permute(0, 2, 3, 1)
        h = F.layer_norm(self.norm(h), (8,), self.w, self.b)
        return self.fc(h), h.float().mean()


def test_mixed_precision_keeps_each_ops_dtype() -> None:
    model = MixedNorms()
    model.bn.running_mean.normal_()
    model.bn.running_var.uniform_(0.5, 2.0)
    conv = assert_converts(model, torch.randn(2, 3, 8, 8, dtype=torch.bfloat16), fresh=2)
    assert [o.mlx_dtype for o in conv.report.validation.outputs] == ["bfloat16", "float32"]
    assert conv.weights["norm.weight"].dtype == mx.float32
    assert conv.weights["bn.running_var"].dtype == mx.float32
    assert conv.weights["fc.weight"].dtype == mx.bfloat16
    code = "".join(conv.source.split())  # black may break a line inside a call
    assert code.count(".astype(mx.bfloat16)") == 3  # the three norms cast back


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("make", [make_bert_tiny, make_gpt2_tiny], ids=["bert", "gpt2"])
def test_dtype_option_writes_and_computes_in_dtype(make, dtype: str) -> None:  # noqa: ANN001
    model, inputs = make()
    conv = fx2mlx.convert(model, inputs, dtype=dtype)
    result = conv.validate()
    assert result.ok, result.table()
    want = mlx_dtype(getattr(torch, dtype))
    floats = {k: w for k, w in conv.weights.items() if mx.issubdtype(w.dtype, mx.floating)}
    assert floats and all(w.dtype == want for w in floats.values())
    eps = torch.finfo(getattr(torch, dtype)).eps
    for row in result.outputs:  # float32 torch outputs come in the dtype, at 8 eps
        assert (row.dtype, row.mlx_dtype, row.rtol) == ("float32", dtype, HALF_ULPS * eps)
        assert 0 < row.rel <= HALF_ULPS * eps  # a real rounding error, within tolerance
    manifest = conv.manifest()
    assert manifest["dtype"] == dtype and manifest["quantize"] is None
    tolerance = manifest["report"]["validation"]["tolerance"]
    assert tolerance["dtype_floor"] == HALF_ULPS * eps
    assert f"computes in {dtype}" in conv.source
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the caller's, untouched


def test_dtype_check_can_fail() -> None:
    """A weight off by more than the dtype's rounding fails validation."""
    model, inputs = MLP(), (torch.randn(4, 16),)
    conv = fx2mlx.convert(model, inputs, dtype="bfloat16")
    assert conv.validate().ok
    conv.weights["b.weight"] = conv.weights["b.weight"] * 1.1
    result = conv.validate()
    assert not result.ok and "rel err beyond rtol" in result.outputs[0].problem


def test_dtype_keeps_integer_buffers_and_callers_model() -> None:
    model, inputs = make_bert_tiny()
    conv = fx2mlx.convert(model, inputs, dtype="float16")
    assert all(p.dtype == torch.float32 for p in model.parameters())  # converted a copy
    assert model.embeddings.position_ids.dtype == torch.int64
    assert "mx.arange(64, dtype=mx.int64)" in conv.source


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dtype": "int8"}, "dtype must be one of float16, bfloat16"),
        ({"dtype": torch.float64}, "got 'float64'"),
        ({"quantize": 3}, "quantize must be 4 or 8"),
        ({"quantize": True}, "quantize must be 4 or 8"),
        ({"quantize": 4, "group_size": 48}, "group_size must be one of 32, 64, 128"),
    ],
)
def test_bad_precision_options(kwargs: dict, message: str) -> None:
    with pytest.raises(fx2mlx.Fx2MlxError, match=message) as info:
        fx2mlx.convert(MLP(), (torch.randn(4, 16),), **kwargs)
    assert str(info.value).startswith("[fx2mlx]")
