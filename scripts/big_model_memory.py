"""Peak memory of converting a big model: a ~1B-parameter Llama (random init) by default.

Run it in a fresh process (the peak is the process's): ::

    python scripts/big_model_memory.py                 # Llama ~1.1B, float32, validated
    python scripts/big_model_memory.py --no-validate   # capture, passes, emit, weights, write
    python scripts/big_model_memory.py --mlp 3500 --no-validate --json    # the test's size

It prints the weight bytes and the peak resident memory (``VmHWM``) of each phase above the
interpreter's own (imports done, no model yet): building the model, converting and saving
(shards above ``--shard-size``), and validating against torch. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

import fx2mlx


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    """Start a new peak: ``VmHWM`` becomes the current RSS (Linux's clear_refs, value 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def _llama(dtype: torch.dtype) -> tuple[torch.nn.Module, tuple]:
    """TinyLlama-1.1B's shape (22 layers, width 2048, grouped-query attention), random init."""
    import transformers as tf

    torch.manual_seed(0)
    config = tf.LlamaConfig(
        vocab_size=32000,
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        use_cache=False,
        attn_implementation="sdpa",
        dtype=dtype,
    )
    with torch.device("cpu"):
        model = tf.LlamaForCausalLM(config).to(dtype).eval()
    return model, (torch.randint(0, 32000, (2, 16)),)


def _mlp(width: int, dtype: torch.dtype) -> tuple[torch.nn.Module, tuple]:
    torch.manual_seed(0)
    layers = [m for _ in range(8) for m in (torch.nn.Linear(width, width), torch.nn.ReLU())]
    model = torch.nn.Sequential(*layers)
    return model.to(dtype).eval(), (torch.randn(2, width, dtype=dtype),)


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mlp", type=int, metavar="WIDTH", help="an 8-layer MLP instead of Llama")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--no-validate", action="store_true")
    p.add_argument("--shard-size", type=int, default=1 << 30, help="bytes (default 1 GiB)")
    p.add_argument("--json", action="store_true", help="one JSON line, nothing else")
    return p.parse_args()


def _phase(result: dict, name: str, base: int, start: float) -> None:
    result[f"{name}_peak_bytes"] = _status("VmHWM") - base
    result[f"{name}_seconds"] = round(time.perf_counter() - start, 1)
    _reset_peak()


def main() -> int:
    args = _parse()
    dtype = getattr(torch, args.dtype)
    base = _status("VmRSS")  # the interpreter with torch, mlx and fx2mlx imported
    _reset_peak()
    start = time.perf_counter()
    model, inputs = _mlp(args.mlp, dtype) if args.mlp else _llama(dtype)
    weight_bytes = sum(t.nbytes for t in model.state_dict().values())
    result = {"model": f"mlp{args.mlp}" if args.mlp else "llama-1.1b", "dtype": args.dtype}
    result["params"] = sum(p.numel() for p in model.parameters())
    result["weight_bytes"] = weight_bytes
    result["interpreter_rss_bytes"] = base
    _phase(result, "build", base, start)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fx2mlx-memory-") as tmp:
        conversion = fx2mlx.convert(model, inputs)
        conversion.save(Path(tmp) / "out", shard_bytes=args.shard_size)
        result["files"] = sorted(p.name for p in (Path(tmp) / "out").iterdir())
    _phase(result, "conversion", base, start)
    if not args.no_validate:
        start = time.perf_counter()
        result["validation_ok"] = conversion.validate(inputs=[inputs]).ok
        _phase(result, "validation", base, start)
    for phase in ("build", "conversion", "validation"):
        if f"{phase}_peak_bytes" in result:
            ratio = result[f"{phase}_peak_bytes"] / weight_bytes
            result[f"{phase}_peak_over_weights"] = round(ratio, 3)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
