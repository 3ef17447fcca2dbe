"""The voice-activity CNN from MLX's PyTorch conversion guide (input (N, 1, 100))."""

from __future__ import annotations

import torch
from torch import nn


class VADNet(nn.Module):
    """Conv1d -> ReLU -> MaxPool1d -> Conv1d -> ReLU -> flatten -> Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 32, 5, padding=2)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(2)
        self.conv2 = nn.Conv1d(32, 64, 5, padding=2)
        self.fc = nn.Linear(64 * 50, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))
        x = self.relu(self.conv2(x))
        x = torch.flatten(x, 1)
        return self.fc(x)


def make_vad() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    return VADNet().eval(), (torch.randn(2, 1, 100),)
