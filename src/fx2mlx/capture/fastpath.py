"""What eager PyTorch's nested-tensor fast path does that the traced math path doesn't.

In eval mode, with the mha fast path enabled (the default), ``nn.TransformerEncoder`` given a
``src_key_padding_mask`` runs its layers on a nested tensor of the unpadded tokens and pads the
result back with zeros, before its final norm: padded positions come out as zeros (or as
``norm(0)``), not as the values the math path computes there. Export traces the math path (the
fast path's kernels can't be traced), so during capture the encoder's forward is wrapped to
zero those positions the way eager does, including eager's check that the padding is
left-aligned (padding only at the end of each sequence; otherwise eager skips the fast path).
The unpadded positions are the same on both paths.

``nn.TransformerEncoder``/``Decoder`` also compare a mask they are given with a causal mask
to set an ``is_causal`` hint: a data-dependent branch export can't trace when the mask is an
input. The hint only lets kernels skip the mask (torch documents a false ``False`` as costing
speed, never results), so during capture an undetermined hint is ``False``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules import transformer

_ORIGINAL = nn.TransformerEncoder.forward
_DETECT_CAUSAL = transformer._detect_is_causal_mask


def _causal_hint(mask: Any, is_causal: bool | None = None, size: int | None = None) -> bool:
    return is_causal is True


def _takes_fast_path(
    encoder: nn.TransformerEncoder, src: torch.Tensor, mask: Any, padding: Any, enabled: bool
) -> bool:
    """eager's static conditions for the nested-tensor path (grad mode aside: inference)."""
    first = encoder.layers[0]
    return (
        enabled
        and getattr(encoder, "use_nested_tensor", False)
        and not first.training
        and src.dim() == 3
        and padding is not None
        and mask is None
        and not torch.is_autocast_enabled()
    )


def _zero_padded(encoder: nn.TransformerEncoder, out: torch.Tensor, padding: Any) -> torch.Tensor:
    padded = padding if padding.dtype == torch.bool else padding != 0  # (batch, seq)
    keep = padded.logical_not()
    if getattr(encoder, "mask_check", True):  # eager takes the path only if left-aligned
        aligned = (keep[:, 1:] <= keep[:, :-1]).all()
        padded = padded & aligned
    if not encoder.layers[0].self_attn.batch_first:
        padded = padded.t()  # (seq, batch), as out is
    return out.masked_fill(padded.unsqueeze(-1), 0.0)


@contextlib.contextmanager
def eager_encoder_padding() -> Iterator[None]:
    """Trace ``nn.TransformerEncoder`` as eager runs it; enter before the fast path is
    disabled for tracing (it reads whether the user's setting enables it)."""
    mha = getattr(torch.backends, "mha", None)
    enabled = mha is None or mha.get_fastpath_enabled()

    def forward(
        self: nn.TransformerEncoder,
        src: torch.Tensor,
        mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
        is_causal: bool | None = None,
    ) -> torch.Tensor:
        if not _takes_fast_path(self, src, mask, src_key_padding_mask, enabled):
            return _ORIGINAL(self, src, mask, src_key_padding_mask, is_causal)
        norm, self.norm = self.norm, None
        try:
            out = _ORIGINAL(self, src, mask, src_key_padding_mask, is_causal)
        finally:
            self.norm = norm
        out = _zero_padded(self, out, src_key_padding_mask)
        return out if norm is None else norm(out)

    nn.TransformerEncoder.forward = forward  # type: ignore[method-assign]
    transformer._detect_is_causal_mask = _causal_hint
    try:
        yield
    finally:
        nn.TransformerEncoder.forward = _ORIGINAL  # type: ignore[method-assign]
        transformer._detect_is_causal_mask = _DETECT_CAUSAL
