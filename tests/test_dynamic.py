"""Dynamic dims: one conversion runs at every size the PyTorch model accepts.

Batch and token sequence are dynamic by default (a batch-1 example included); more dims are
declared with ``dynamic=``; validation runs at a second size of every dynamic dim.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx
from fx2mlx.capture.dynamic import parse_cli, plan
from fx2mlx.errors import Fx2MlxError
from fx2mlx.report import baked_lines
from fx2mlx.validate import load_generated

from .helpers import assert_converts


def _runs_at(conv: fx2mlx.Conversion, shapes: list[list[list[int]]], seed: int = 3) -> None:
    """The one conversion matches torch on fresh inputs of each list of input shapes."""
    sets = [
        fx2mlx.random_inputs(conv.inputs, shapes=s, seed=seed + i) for i, s in enumerate(shapes)
    ]
    result = conv.validate(sets)
    assert result.ok, f"{result.table()}\n--- generated ---\n{conv.source}"


class _UNet(nn.Module):
    """Fully convolutional: a strided conv down, upsampling back, a skip concatenation."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.mid = nn.Conv2d(16, 16, 3, padding=1)
        self.out = nn.Conv2d(24, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = F.relu(self.enc(x))
        deep = F.relu(self.mid(F.relu(self.down(skip))))
        up = F.interpolate(deep, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.out(torch.cat([skip, up], dim=1))


def test_cnn_from_a_batch_of_one_runs_at_any_batch() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    conv = assert_converts(model, torch.randn(1, 3, 6, 6))
    assert conv.report.dynamic_batch and conv.report.warnings == []
    assert conv.second_shapes == [[2, 3, 6, 6]]
    _runs_at(conv, [[[1, 3, 6, 6]], [[7, 3, 6, 6]]])


def test_a_model_that_fixes_batch_one_stays_static_with_a_note(tmp_path: Path) -> None:
    class One(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(1, 12) * 2

    conv = assert_converts(One(), torch.randn(1, 3, 4))
    assert not conv.report.dynamic_batch
    assert "batch dimension is static" in conv.report.warnings[0]
    mlx_model = load_generated(conv.save(tmp_path / "out"))
    with pytest.raises(ValueError, match=r"x\.shape\[0\] is 2: model\.py takes 1 only"):
        mlx_model(mx.zeros((2, 3, 4)))


def test_a_graph_that_differs_at_size_one_is_captured_static() -> None:
    """Traced at batch 2, ``squeeze(0)`` does nothing; at the example's batch 1 it drops the
    dim: the widened capture would be wrong on the example itself, so it is not kept."""

    class Squeeze(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.squeeze(x, 0) * 2

    conv = assert_converts(Squeeze(), torch.randn(1, 3, 4))
    assert not conv.report.dynamic_batch
    assert "size-1 dims kept static" in conv.report.warnings[-1]


def test_declared_spatial_dims_run_a_unet_at_other_sizes() -> None:
    conv = assert_converts(_UNet(), torch.randn(1, 3, 64, 64), dynamic={"x": [2, 3]})
    assert conv.report.dynamic_dims == ["x.shape[0]", "x.shape[2]", "x.shape[3]"]
    assert conv.second_shapes == [[2, 3, 80, 80]]  # validation ran at another size of each
    _runs_at(conv, [[[1, 3, 96, 128]], [[2, 3, 64, 64]]])


class _Frames(nn.Module):
    """(batch, mels, frames): a stride-2 conv halves the frames, a view splits heads by the
    halved length. The 8 in that view derives from frames (16 // 2), not from mels (8)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 3, stride=2, padding=1)
        self.proj = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x).transpose(1, 2)
        b, t, _ = h.shape
        return self.proj(h).view(b, t, 4, 4).sum(-1)


def test_a_derived_size_is_attributed_to_the_dim_it_comes_from(tmp_path: Path) -> None:
    conv = assert_converts(_Frames(), torch.randn(2, 8, 16))
    baked, mels = conv.report.baked_dims
    assert (baked.input, baked.dim, baked.value, baked.derived) == ("x", 2, 16, 8)
    # the conv's weight fixes the mels: listed, and checked like torch checks it
    assert (mels.input, mels.dim, mels.value, mels.by_model) == ("x", 1, 8, True)
    assert "# 8 from x.shape[2] = 16 when traced" in conv.source
    lines = baked_lines(conv.report.baked_dims, conv.source)
    assert "--dynamic x:2" in lines[1] and lines[0].startswith("fixed by the model: input 0")
    mlx_model = load_generated(conv.save(tmp_path / "out"))
    with pytest.raises(ValueError, match=r"x\.shape\[2\] is 32: model\.py takes 16 only"):
        mlx_model(mx.zeros((2, 8, 32)))
    with pytest.raises(ValueError, match=r"x\.shape\[1\] is 4: model\.py takes 8 only"):
        mlx_model(mx.zeros((2, 4, 16)))
    declared = assert_converts(_Frames(), torch.randn(2, 8, 16), dynamic={"x": [2]})
    assert [b.by_model for b in declared.report.baked_dims] == [True]
    _runs_at(declared, [[[2, 8, 32]], [[1, 8, 6]]])


class _CheckedFrames(_Frames):
    """Whisper's encoder: the model checks its frame count itself, so no probe can trace the
    8 in the view back to frames (16 // 2); a reshape by it takes 32 frames silently."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(6, 16, 3, stride=2, padding=1)  # 6 mels: no equal number

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != 16:
            raise ValueError("expected 16 frames")
        h = self.conv(x).transpose(1, 2)
        return self.proj(h).view(x.shape[0], 8, -1, 4).sum(-1)


def test_sizes_the_model_fixes_are_listed_and_refused(tmp_path: Path) -> None:
    conv = assert_converts(_CheckedFrames(), torch.randn(2, 6, 16))
    fixed = [(b.dim, b.value) for b in conv.report.baked_dims if b.by_model]
    assert fixed == [(1, 6), (2, 16)]
    assert "when traced" not in conv.source  # no input size is 8: nothing to guess
    assert baked_lines(conv.report.baked_dims, "")[1] == (
        "fixed by the model: input 0 (x) dim 2 = 16"
    )
    mlx_model = load_generated(conv.save(tmp_path / "out"))
    with pytest.raises(ValueError, match=r"x\.shape\[2\] is 32: model\.py takes 16 only"):
        mlx_model(mx.zeros((2, 6, 32)))


def test_spatial_dims_are_static_unless_declared() -> None:
    conv = fx2mlx.convert(_UNet().eval(), torch.randn(2, 3, 32, 32))
    assert conv.report.dynamic_dims == ["x.shape[0]"]


def test_a_declared_dim_the_model_fixes_is_refused() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    with pytest.raises(
        Fx2MlxError, match=r"declared dynamic, but the model fixes the size of: x dim 2$"
    ):
        fx2mlx.convert(model.eval(), torch.randn(2, 3, 6, 6), dynamic={0: [2]})


@pytest.mark.parametrize(
    "declared,message",
    [
        ({"y": [1]}, "'y', which is not an input; the inputs are: x"),
        ({"x": [4]}, "dynamic dim 4 of x is not a dim of its example"),
        ([1], "dynamic= takes a dict"),
    ],
)
def test_bad_declarations_are_clear_errors(declared: object, message: str) -> None:
    with pytest.raises(Fx2MlxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(_UNet(), (torch.randn(1, 3, 8, 8),), declared)


def test_token_inputs_and_their_masks_get_a_dynamic_sequence() -> None:
    ids, mask, feats = torch.zeros(2, 7, dtype=torch.long), torch.ones(2, 7), torch.randn(2, 5)
    assert plan(nn.Identity(), (ids, mask, feats)).dims == [{0, 1}, {0, 1}, {0}]


def test_export_dynamic_shapes_pass_through() -> None:
    batch = torch.export.Dim("batch", min=1, max=64)
    conv = assert_converts(_UNet(), torch.randn(2, 3, 16, 16), dynamic=({0: batch},))
    assert conv.report.dynamic_dims == ["x.shape[0]"]


def test_cli_spelling() -> None:
    assert parse_cli(["x:2,3", "mask:1", "x:0"]) == {"x": [2, 3, 0], "mask": [1]}
    for bad in ["x", "x:", ":1", "x:a"]:
        with pytest.raises(Fx2MlxError, match="--dynamic takes NAME:DIM"):
            parse_cli([bad])


transformers = pytest.importorskip("transformers")
from fx2mlx.examples.hf_zoo import text  # noqa: E402 - needs transformers


def _bert() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=512,
    )
    model = text.ready(transformers.BertModel(config))
    return model, (text.ids(1, 8), torch.ones(1, 8, dtype=torch.long))


@pytest.mark.zoo
def test_one_bert_conversion_runs_at_every_batch_and_length() -> None:
    model, inputs = _bert()
    conv = assert_converts(model, inputs)
    assert conv.report.baked_dims == [] and not conv.report.warnings
    _runs_at(conv, [[[b, n]] * 2 for b, n in [(1, 8), (3, 64), (2, 512)]])


@pytest.mark.zoo
@pytest.mark.parametrize("make", [text.make_gpt2, text.make_llama, text.make_t5_encoder])
def test_one_conversion_runs_at_sequence_1_7_64(make: object) -> None:
    model, inputs = make()  # type: ignore[operator]
    conv = assert_converts(model, inputs)
    assert conv.report.baked_dims == [] and not conv.report.warnings
    _runs_at(conv, [[[b, n]] * len(inputs) for b, n in [(1, 1), (2, 7), (3, 64)]])


def test_the_manifest_says_whether_shapeless_compile_works() -> None:
    """Verified by running the compiled module at two sizes: elementwise math reads no size;
    a view by the batch size turns it into a Python number at trace time. (MLX 0.32's CPU
    addmm, behind nn.Linear, is itself wrong under a shapeless compile at a new batch size:
    the check reports what runs, not what the code looks like.)"""
    conv = assert_converts(nn.Sequential(nn.Softmax(-1), nn.GELU()), torch.randn(2, 4), fresh=0)
    assert conv.validate().ok and conv.report.shapeless is True

    class Flat(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(x.shape[0], -1) * 2

    conv = assert_converts(Flat(), torch.randn(2, 3, 4), fresh=0)
    assert conv.validate().ok and conv.report.shapeless is False
    assert conv.manifest()["report"]["shapeless"] is False
