"""What every zoo factory shares: the transformers import, seeding, and weights that can't hide
bugs."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import nn

Example = tuple[nn.Module, tuple[torch.Tensor, ...]]

VOCAB = 99


def transformers() -> ModuleType:
    """The ``transformers`` module, or a clear error when the zoo extra is not installed."""
    try:
        import transformers as tf
    except ImportError as exc:  # pragma: no cover - the zoo extra is not installed
        from ...errors import Fx2MlxError

        raise Fx2MlxError("the zoo needs `pip install transformers`") from exc
    return tf


def ready(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with every constant-valued weight perturbed.

    Default init leaves norm scales at 1, biases and BatchNorm means at 0, variances at 1: a
    converter that dropped one of them would still match, so each becomes random.
    """
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.is_floating_point() and _constant(param):
                param.add_(0.1 * torch.randn(param.shape, generator=gen))
        for name, buf in model.named_buffers():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "running_mean":
                buf.copy_(0.1 * torch.randn(buf.shape, generator=gen))
            elif leaf == "running_var":
                buf.copy_(0.5 + torch.rand(buf.shape, generator=gen))
    return model.eval()


def _constant(param: torch.Tensor) -> bool:
    flat = param.detach().flatten()
    return bool(flat.numel()) and bool((flat == flat[0]).all())


def ids(batch: int = 2, length: int = 7, low: int = 0) -> torch.Tensor:
    """Token ids in ``[low, VOCAB)``."""
    return torch.randint(low, VOCAB, (batch, length))


def padding_mask(batch: int = 2, length: int = 7) -> torch.Tensor:
    """All ones but the last row, whose last three tokens are padding."""
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[-1, length - 3 :] = 0
    return mask


def image(size: int = 32, channels: int = 3) -> torch.Tensor:
    return torch.randn(2, channels, size, size)


class TextToText(nn.Module):
    """A seq2seq model on encoder and decoder ids (its forward takes ``attention_mask``
    second)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor) -> Any:
        return self.model(input_ids=input_ids, decoder_input_ids=decoder_input_ids)


class SpeechToText(nn.Module):
    """A speech seq2seq model on log-mel features and decoder ids."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_features: torch.Tensor, decoder_input_ids: torch.Tensor) -> Any:
        return self.model(input_features=input_features, decoder_input_ids=decoder_input_ids)
