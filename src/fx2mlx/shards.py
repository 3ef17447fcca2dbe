"""Weights on disk: safetensors written one array at a time, sharded above a size.

A big model must not be held twice: each array is converted, written and dropped before the
next. Above ``SHARD_BYTES`` the weights go to ``model-00001-of-0000N.safetensors`` files and
``model.safetensors.index.json`` (``weight_map``: key -> file), as MLX's own tools write them;
the generated ``load()`` reads either form.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import mlx.core as mx

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
SHARD_BYTES = 5 << 30  # MLX's tools shard at 5 GB
ALIGN = 8  # the header is padded so that the data starts 8-byte aligned

# safetensors' dtype names (the ones mx.save_safetensors writes)
NAMES = {
    mx.float32: "F32",
    mx.float16: "F16",
    mx.bfloat16: "BF16",
    mx.complex64: "C64",
    mx.int64: "I64",
    mx.int32: "I32",
    mx.int16: "I16",
    mx.int8: "I8",
    mx.uint64: "U64",
    mx.uint32: "U32",
    mx.uint16: "U16",
    mx.uint8: "U8",
    mx.bool_: "BOOL",
}

Writer = Callable[[BinaryIO], None]


def _spec(weights: Mapping[str, mx.array], key: str) -> tuple[mx.Dtype, tuple[int, ...]]:
    """An array's dtype and shape; ``weights.Weights`` tells them without converting it."""
    if hasattr(weights, "spec"):
        return weights.spec(key)  # type: ignore[no-any-return]
    array = weights[key]
    return array.dtype, tuple(array.shape)


def nbytes(weights: Mapping[str, mx.array], key: str) -> int:
    """An array's size in bytes."""
    dtype, shape = _spec(weights, key)
    count = 1
    for d in shape:
        count *= d
    return count * dtype.size


def _header(weights: Mapping[str, mx.array], keys: list[str]) -> bytes:
    entries: dict[str, Any] = {"__metadata__": {"format": "mlx"}}
    offset = 0
    for key in keys:
        dtype, shape = _spec(weights, key)
        size = nbytes(weights, key)
        entries[key] = {
            "dtype": NAMES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(entries, separators=(",", ":")).encode()
    return text + b" " * (-(len(text) + 8) % ALIGN)


def write_safetensors(f: BinaryIO, weights: Mapping[str, mx.array], keys: list[str]) -> None:
    """``keys`` of ``weights`` as one safetensors file, converting one array at a time."""
    header = _header(weights, keys)
    f.write(struct.pack("<Q", len(header)) + header)
    for key in keys:
        raw = mx.contiguous(weights[key]).reshape(-1).view(mx.uint8)  # the bytes, any dtype
        mx.eval(raw)
        f.write(memoryview(raw))
        del raw  # before the next array is converted


def plan(weights: Mapping[str, mx.array], shard_bytes: int = SHARD_BYTES) -> dict[str, list[str]]:
    """File name -> the keys it holds: one file up to ``shard_bytes``, else shards of at most
    ``shard_bytes`` each (an array larger than that gets a shard of its own)."""
    keys = sorted(weights)
    if sum(nbytes(weights, k) for k in keys) <= shard_bytes:
        return {SINGLE: keys}
    groups: list[list[str]] = [[]]
    size = 0
    for key in keys:
        n = nbytes(weights, key)
        if groups[-1] and size + n > shard_bytes:
            groups.append([])
            size = 0
        groups[-1].append(key)
        size += n
    count = len(groups)
    return {f"model-{i + 1:05d}-of-{count:05d}.safetensors": g for i, g in enumerate(groups)}


def index_bytes(weights: Mapping[str, mx.array], files: dict[str, list[str]]) -> bytes:
    """``model.safetensors.index.json``: the total size and which file holds each key."""
    weight_map = {k: name for name, keys in files.items() for k in keys}
    total = sum(nbytes(weights, k) for k in weight_map)
    data = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    return (json.dumps(data, indent=2) + "\n").encode()


def weight_files(
    weights: Mapping[str, mx.array], shard_bytes: int = SHARD_BYTES
) -> dict[str, Writer | bytes]:
    """The weight files to write, each as a function writing it (the index as bytes)."""
    files = plan(weights, shard_bytes)
    out: dict[str, Writer | bytes] = {
        name: (lambda f, keys=keys: write_safetensors(f, weights, keys))
        for name, keys in files.items()
    }
    if SINGLE not in files:
        out[INDEX] = index_bytes(weights, files)
    return out
