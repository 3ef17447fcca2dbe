"""``quantize=``/``--quantize``: Linear and Embedding layers stored as MLX affine quantization,
built quantized by the generated ``load()``, validated against torch holding the dequantized
weights, with the error against the float model reported."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import mlx.nn as mnn
import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.cli import main
from fx2mlx.command import regenerate_command
from fx2mlx.examples.zoo import make_bert_tiny, make_gpt2_tiny
from fx2mlx.tensors import to_mlx
from fx2mlx.validate import load_generated

transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("make", [make_bert_tiny, make_gpt2_tiny], ids=["bert", "gpt2"])
def test_quantized_zoo_models(make, bits: int, tmp_path: Path) -> None:  # noqa: ANN001
    model, inputs = make()
    conv = fx2mlx.convert(model, inputs, quantize=bits, group_size=32)
    result = conv.validate([inputs, fx2mlx.random_inputs(inputs, batch=3, seed=5)])
    assert result.ok, result.table()
    report = conv.report
    assert report.quantized and all(f"{p}.scales" in conv.weights for p in report.quantized)
    assert all(conv.weights[f"{p}.weight"].dtype == mx.uint32 for p in report.quantized)
    if make is make_bert_tiny:  # the feed-forward output reads width 37: no group of 32 fits
        assert report.float_layers == {
            f"encoder.layer.{i}.output.dense": "input width 37 is not a multiple of 32"
            for i in (0, 1)
        }
    errors = [e["rel"] for e in result.float_error.values()]
    assert errors and all(0 < e < 1 for e in errors)  # lossy, but the same function
    conv.save(tmp_path / "out")
    loaded = load_generated(tmp_path / "out")
    layers = dict(loaded.named_modules())
    kinds = (mnn.QuantizedLinear, mnn.QuantizedEmbedding)
    assert all(isinstance(layers[p], kinds) for p in report.quantized)
    manifest = json.loads((tmp_path / "out" / "fx2mlx.json").read_text())
    assert manifest["quantize"] == {"bits": bits, "group_size": 32, "mode": "affine"}
    assert manifest["report"]["validation"]["float_error"]


def test_fewer_bits_lose_more() -> None:
    model, inputs = make_gpt2_tiny()
    errors = {}
    for bits in (4, 8):
        result = fx2mlx.convert(model, inputs, quantize=bits, group_size=32).validate()
        errors[bits] = result.float_error["['logits']"]["rel"]
    assert errors[8] < errors[4] / 4  # each bit halves the step: 16x finer, well under 4x


@pytest.mark.parametrize("broken", ["scales", "biases", "weight"])
def test_broken_quantized_weight_fails(broken: str) -> None:
    model, inputs = make_gpt2_tiny()
    conv = fx2mlx.convert(model, inputs, quantize=8, group_size=32)
    assert conv.validate().ok
    # c_proj reads GELU's output: c_fc's reads a LayerNorm's, whose zero mean hides a bias
    key = f"transformer.h.1.mlp.c_proj.{broken}"
    value = conv.weights[key]
    if broken == "weight":  # one packed word of 4 weights changed
        conv.weights[key] = value.at[0, 0].add(mx.array(1 << 20, dtype=mx.uint32))
    else:
        conv.weights[key] = value.at[0, 0].multiply(3.0)
    result = conv.validate()
    assert not result.ok, result.table()


class Tied(nn.Module):
    """An embedding whose weight is also read directly (an output projection on it), and a
    weight-normed Linear: both stay float."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 32)
        self.proj = nn.Linear(32, 32)
        self.normed = nn.utils.parametrizations.weight_norm(nn.Linear(32, 32))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.normed(torch.relu(self.proj(self.emb(ids))))
        return h @ self.emb.weight.T


def test_layers_that_cant_be_quantized_stay_float() -> None:
    ids = torch.randint(0, 50, (2, 7))
    conv = fx2mlx.convert(Tied().eval(), (ids,), quantize=4, group_size=32)
    assert conv.report.quantized == ["proj"]
    assert conv.report.float_layers == {
        "emb": "its weight is also read outside the layer",
        "normed": "its weight is computed (a parametrization)",
    }
    assert conv.validate().ok


def test_large_gpt2_quantized_4_bits() -> None:
    """A 51M-parameter GPT-2 (8 layers, width 512, GPT-2's vocabulary) in 4 bits, groups of 64:
    every Linear/Embedding quantized; one short input set keeps it quick on CPU."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_embd=512, n_layer=8, n_head=8, n_positions=64, use_cache=False, attn_implementation="sdpa"
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    assert sum(p.numel() for p in model.parameters()) >= 50_000_000
    ids = torch.randint(0, config.vocab_size, (1, 8))
    conv = fx2mlx.convert(model, (ids,), quantize=4)
    assert len(conv.report.quantized) == 2 + 8 * 4 + 1 and not conv.report.float_layers
    result = conv.validate([(ids,)])
    assert result.ok, result.table()
    assert 0 < result.float_error["['logits']"]["rel"] < 1
    packed = sum(w.nbytes for w in conv.weights.values())
    assert packed < 0.25 * sum(p.numel() * 4 for p in model.parameters())  # 4-bit + scales


def test_cli_quantize_and_dtype(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    argv = ["convert", "fx2mlx.examples.zoo:make_gpt2_tiny", "-o", str(out)]
    assert main([*argv, "--quantize", "8", "--group-size", "32", "--dtype", "bfloat16"]) == 0
    bert = ["convert", "fx2mlx.examples.zoo:make_bert_tiny", "-o", str(tmp_path / "bert")]
    assert main([*bert, "--quantize", "4", "--group-size", "32"]) == 0
    err = capsys.readouterr().err
    assert "not quantized, stays float: encoder.layer.1.output.dense (input width 37" in err
    assert "; 2 stay float (fx2mlx.json says why)." in (tmp_path / "bert" / "model.py").read_text()
    manifest = json.loads((out / "fx2mlx.json").read_text())
    assert manifest["dtype"] == "bfloat16" and manifest["quantize"]["bits"] == 8
    assert manifest["report"]["validation"]["ok"] is True
    source = (out / "model.py").read_text()
    assert "--dtype bfloat16 --quantize 8 --group-size 32 -o OUT" in source
    assert "nn.quantize(model, 32, 8, class_predicate=" in source
    assert (
        main([*argv, "--quantize", "8", "--group-size", "32", "--dtype", "bfloat16", "--check"])
        == 0
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--quantize", "3"], "argument --quantize: invalid choice: 3"),
        (["--dtype", "int8"], "argument --dtype: invalid choice: 'int8'"),
        (["--quantize", "4", "--group-size", "48"], "argument --group-size: invalid choice: 48"),
        (["--group-size", "32"], "--group-size applies to --quantize's groups"),
    ],
)
def test_cli_bad_values(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main(["convert", "tests.fixtures.models:make_tiny", "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("[fx2mlx]") and message in err and not out.exists()


@pytest.mark.parametrize(
    "options",
    [{"quantize": 4, "group_size": 32}, {"quantize": 8, "group_size": 32, "dtype": "float16"}],
    ids=["q4", "q8-float16"],
)
@pytest.mark.parametrize("make", [make_bert_tiny, make_gpt2_tiny], ids=["bert", "gpt2"])
def test_sanitize_gives_the_written_weights(
    make, options: dict, tmp_path: Path
) -> None:  # noqa: ANN001
    """A PyTorch state_dict through the generated ``sanitize``: cast and quantized exactly as
    the conversion wrote them, so ``load()``'s quantized model takes a checkpoint."""
    model, inputs = make()
    conv = fx2mlx.convert(model, inputs, **options)
    conv.save(tmp_path / "out")
    loaded = load_generated(tmp_path / "out")
    state = {k: to_mlx(v) for k, v in model.state_dict().items()}
    sanitized = loaded.sanitize(state)
    assert sorted(sanitized) == sorted(conv.weights)
    for key, value in conv.weights.items():
        assert sanitized[key].dtype == value.dtype and mx.array_equal(sanitized[key], value), key
    loaded.load_weights(list(sanitized.items()), strict=True)


def test_regenerate_command_lists_precision_options() -> None:
    def command(**options: object) -> str:
        return regenerate_command(
            "m:f", {"dtype": None, "quantize": None, "group_size": 64, **options}
        )

    assert command() == "fx2mlx convert m:f -o OUT"
    assert command(quantize=4) == "fx2mlx convert m:f --quantize 4 -o OUT"  # 64: the default
    assert command(quantize=8, group_size=128, dtype="float16") == (
        "fx2mlx convert m:f --dtype float16 --quantize 8 --group-size 128 -o OUT"
    )


def test_half_model_to_other_half_dtype() -> None:
    """A float16 model with dtype="bfloat16": every float output is expected in bfloat16."""
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4)).half()
    conv = fx2mlx.convert(model, (torch.randn(3, 8, dtype=torch.float16),), dtype="bfloat16")
    result = conv.validate()
    assert result.ok, result.table()
    assert [(o.dtype, o.mlx_dtype) for o in result.outputs] == [("float16", "bfloat16")]
