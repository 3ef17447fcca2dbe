"""Weights written one array at a time, sharded above a size with MLX's index; ``load()`` reads
either form; the peak memory of a conversion stays near one copy of the weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.cli import main
from fx2mlx.errors import Fx2MlxError
from fx2mlx.examples.resnet import make_resnet18
from fx2mlx.shards import INDEX, SINGLE
from fx2mlx.validate import compare, load_generated, run_both

ROOT = Path(__file__).resolve().parents[1]


def _mixed() -> tuple[nn.Module, tuple]:
    """Every dtype the writer has to spell, and a conv (a moved axis) among them."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 6 * 6, 4)).eval()
    model[0].register_buffer("ids", torch.arange(5))  # int64
    model[0].register_buffer("mask", torch.tensor([True, False]))  # bool
    model[2].to(torch.bfloat16)
    return model, (torch.randn(2, 3, 8, 8),)


def _arrays(folder: Path) -> dict[str, mx.array]:
    index = folder / INDEX
    if not index.exists():
        return mx.load(str(folder / SINGLE))
    files = set(json.loads(index.read_text())["weight_map"].values())
    return {k: v for name in sorted(files) for k, v in mx.load(str(folder / name)).items()}


def test_sharded_equals_single_file(tmp_path: Path) -> None:
    model, inputs = make_resnet18()
    conv = fx2mlx.convert(model, inputs)
    conv.save(tmp_path / "one")
    conv.save(tmp_path / "many", shard_bytes=4 << 20)
    shards = sorted(p.name for p in (tmp_path / "many").glob("model-*.safetensors"))
    assert len(shards) >= 3 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    index = json.loads((tmp_path / "many" / INDEX).read_text())
    assert set(index["weight_map"].values()) == set(shards)
    one, many = _arrays(tmp_path / "one"), _arrays(tmp_path / "many")
    assert index["metadata"]["total_size"] == sum(a.nbytes for a in one.values())
    assert sorted(one) == sorted(many) == sorted(conv.weights)
    assert all(mx.array_equal(one[k], many[k]).item() for k in one)
    for folder in ("one", "many"):
        generated = load_generated(tmp_path / folder)  # strict
        expected, got = run_both(model, generated, inputs)
        assert all(c.ok for c in compare(expected, got, rtol=1e-4, atol=1e-3))
    for path in (tmp_path / "one" / SINGLE, tmp_path / "many", str(tmp_path / "many")):
        generated = load_generated(tmp_path / "one", path=path)  # a file, or a sharded folder
        expected, got = run_both(model, generated, inputs)
        assert all(c.ok for c in compare(expected, got, rtol=1e-4, atol=1e-3))
    manifest = json.loads((tmp_path / "many" / "fx2mlx.json").read_text())
    assert set(manifest["files"]) == {"model.py", INDEX, *shards}


def test_every_dtype_round_trips(tmp_path: Path) -> None:
    model, inputs = _mixed()
    conv = fx2mlx.convert(model, (inputs[0],))
    for shard_bytes in (1, 1 << 30):
        folder = tmp_path / str(shard_bytes)
        conv.save(folder, shard_bytes=shard_bytes)
        arrays = _arrays(folder)
        assert {k: v.dtype for k, v in arrays.items()} == {
            k: v.dtype for k, v in conv.weights.items()
        }
        assert all(mx.array_equal(arrays[k], conv.weights[k]).item() for k in arrays)
        assert conv.weights["layers.2.weight"].dtype == mx.bfloat16
    assert len(list((tmp_path / "1").glob("model-*"))) == len(conv.weights)  # one array each


def test_resave_replaces_shards_with_one_file(tmp_path: Path) -> None:
    model, inputs = _mixed()
    conv = fx2mlx.convert(model, (inputs[0],))
    conv.save(tmp_path, shard_bytes=1)
    conv.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fx2mlx.json", "model.py", SINGLE]
    with pytest.raises(Fx2MlxError, match="shard size"):
        conv.save(tmp_path, shard_bytes=0)


def test_cli_shard_size_and_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    target = "fx2mlx.examples.mlp:make_mlp"
    assert main(["convert", target, "--shard-size", "300KB", "-o", str(out), "-q"]) == 0
    assert (out / INDEX).exists() and not (out / SINGLE).exists()
    assert f"fx2mlx convert {target} --shard-size 307200 -o OUT" in (out / "model.py").read_text()
    main(["convert", target, "--shard-size", "300KB", "-o", str(out), "--no-validate"])
    count = len(list(out.glob("model-*.safetensors")))
    assert f"model.py, {count} weight shards, {INDEX}, fx2mlx.json" in capsys.readouterr().out
    check = ["convert", target, "--shard-size", "300KB", "-o", str(out), "--check", "-q"]
    assert main(check) == 0
    assert main(["convert", target, "--shard-size", "lots", "-o", str(tmp_path / "x")]) == 2
    assert "[fx2mlx] argument --shard-size: not a size" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_conversion_holds_the_weights_about_once() -> None:
    """An 8-layer MLP of ~400 MB float32: converting and saving it (no validation) raises peak
    RSS by well under one more copy of the weights (the memory script, at 1B parameters, is
    ``scripts/big_model_memory.py``)."""
    script = ROOT / "scripts" / "big_model_memory.py"
    run = subprocess.run(
        [sys.executable, str(script), "--mlp", "3500", "--no-validate", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["weight_bytes"] > 350e6
    assert result["conversion_peak_over_weights"] <= 1.5, result
