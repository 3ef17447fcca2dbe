"""A small text classifier: embedding + nn.TransformerEncoder + mean pool + linear head."""

from __future__ import annotations

import torch
from torch import nn


class TextClassifier(nn.Module):
    def __init__(
        self,
        vocab: int = 1000,
        dim: int = 64,
        heads: int = 4,
        layers: int = 2,
        classes: int = 3,
        max_len: int = 128,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=0.1, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.pos[:, : tokens.shape[1]]
        x = self.encoder(x)
        return self.head(self.norm(x).mean(dim=1))


def make_transformer() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    return TextClassifier().eval(), (torch.randint(0, 1000, (2, 12)),)
