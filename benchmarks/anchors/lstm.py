"""A 2-layer LSTM at sequence length 100 against ``mlx.nn.LSTM`` (stacked twice: MLX's layer
has one layer; its bias is torch's ``b_ih + b_hh``)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import torch

from . import Anchor, first, to_mx

SIZES = {"input": 128, "hidden": 256, "layers": 2, "seq": 100}


class LSTMNet(torch.nn.Module):
    """The sequence of top-layer hidden states."""

    def __init__(self) -> None:
        super().__init__()
        s = SIZES
        self.lstm = torch.nn.LSTM(s["input"], s["hidden"], s["layers"], batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


class HandLSTM(nn.Module):
    """``mlx.nn.LSTM`` layers stacked as torch stacks them."""

    def __init__(self) -> None:
        super().__init__()
        s = SIZES
        sizes = [s["input"]] + [s["hidden"]] * (s["layers"] - 1)
        self.layers = [nn.LSTM(i, s["hidden"]) for i in sizes]

    def __call__(self, x: mx.array) -> mx.array:
        for layer in self.layers:
            x, _ = layer(x)
        return x


def hand_lstm(model: torch.nn.Module) -> nn.Module:
    hand = HandLSTM()
    lstm = model.lstm
    weights = []
    for i in range(SIZES["layers"]):
        w = {n: to_mx(getattr(lstm, f"{n}_l{i}")) for n in ("weight_ih", "weight_hh")}
        bias = to_mx(getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}"))
        weights += [(f"layers.{i}.Wx", w["weight_ih"]), (f"layers.{i}.Wh", w["weight_hh"])]
        weights.append((f"layers.{i}.bias", bias))
    hand.load_weights(weights, strict=True)
    hand.eval()
    return hand


def seqs(batch: int) -> tuple[torch.Tensor, ...]:
    return (torch.randn(batch, SIZES["seq"], SIZES["input"]),)


ANCHOR = Anchor(
    name="lstm",
    torch_model=LSTMNet,
    inputs=seqs,
    hand=hand_lstm,
    hand_name="mlx.nn.LSTM (mlx 0.32.4)",
    hand_inputs=lambda xs: tuple(to_mx(x) for x in xs),
    pick_torch=first,
    pick_hand=first,
    pick_gen=first,
    batches=(1, 16),
    note="input 128, hidden 256, 2 layers, batch_first, sequence length 100",
)
