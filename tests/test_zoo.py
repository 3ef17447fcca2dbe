"""Model zoo: Hugging Face ``transformers`` architectures from tiny configs, end to end.

Random init (nothing is downloaded). Each model is converted, validated against torch on the
example inputs plus fresh random ones, saved, re-imported with its own ``load()``, and its
source is checked to import only ``mlx`` and the standard library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from fx2mlx.tensors import to_mlx
from fx2mlx.validate import compare, load_generated, validate_folder

from .helpers import assert_converts, assert_only_mlx_and_stdlib

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.zoo

ATTN = ["sdpa", "eager"]


def bert(attn: str) -> torch.nn.Module:
    config = transformers.BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        attn_implementation=attn,
    )
    return transformers.BertModel(config).eval()


def gpt2(attn: str) -> torch.nn.Module:
    config = transformers.GPT2Config(
        vocab_size=99,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=64,
        use_cache=False,
        attn_implementation=attn,
    )
    return transformers.GPT2LMHeadModel(config).eval()


def ids(batch: int = 2, length: int = 7) -> torch.Tensor:
    return torch.randint(0, 99, (batch, length))


def padding_mask() -> torch.Tensor:
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 4:] = 0  # the second sequence is padded: its last three tokens are masked out
    return mask


def check_saved(conv: Any, model: torch.nn.Module, inputs: tuple, folder: Path) -> None:
    """Save, import the folder's model.py, ``load()`` it, compare outputs and their keys."""
    conv.save(folder)
    assert {p.name for p in folder.iterdir()} >= {"model.py", "model.safetensors", "fx2mlx.json"}
    result = validate_folder(model, folder, [inputs])
    assert result.ok, result.table()
    generated = load_generated(folder)
    got = generated(*[to_mlx(x) for x in inputs])
    with torch.no_grad():
        expected = model(*inputs)
    assert isinstance(got, dict), type(got)
    assert list(got) == list(expected.keys())  # ModelOutput -> dict, same keys, same order


def test_import_check_can_fail() -> None:
    assert_only_mlx_and_stdlib("import mlx.core as mx\nfrom pathlib import Path\n")
    with pytest.raises(AssertionError):
        assert_only_mlx_and_stdlib("import mlx.core as mx\nimport torch\n")
    with pytest.raises(AssertionError):
        assert_only_mlx_and_stdlib(
            "import mlx.core as mx\nfrom transformers.activations import x\n"
        )


# -- BERT ----------------------------------------------------------------------------------


@pytest.mark.parametrize("attn", ATTN)
def test_bert_input_ids(attn: str, tmp_path: Path) -> None:
    model = bert(attn)
    inputs = (ids(),)
    conv = assert_converts(model, inputs)
    assert_only_mlx_and_stdlib(conv.source)
    check_saved(conv, model, inputs, tmp_path / "out")


@pytest.mark.parametrize("attn", ATTN)
def test_bert_attention_mask(attn: str, tmp_path: Path) -> None:
    model = bert(attn)
    inputs = (ids(), padding_mask())
    with torch.no_grad():  # the mask must matter, or this test could not fail on it
        unmasked = model(inputs[0]).last_hidden_state
        masked = model(*inputs).last_hidden_state
    assert not torch.allclose(unmasked[1], masked[1], atol=1e-3)
    conv = assert_converts(model, inputs, fresh=2)
    assert_only_mlx_and_stdlib(conv.source)
    check_saved(conv, model, inputs, tmp_path / "out")


@pytest.mark.parametrize("attn", ATTN)
def test_bert_token_type_ids(attn: str) -> None:
    model = bert(attn)
    token_types = torch.zeros(2, 7, dtype=torch.long)
    token_types[:, 4:] = 1  # a sentence pair: segment B starts at token 4
    inputs = (ids(), padding_mask(), token_types)
    with torch.no_grad():
        assert not torch.allclose(
            model(*inputs[:2]).last_hidden_state, model(*inputs).last_hidden_state
        )
    assert_converts(model, inputs, fresh=2)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_bert_all_padding_sequence(attn: str) -> None:
    """A batch row that is all padding: every query of it attends to nothing."""
    model = bert(attn)
    mask = padding_mask()
    mask[0] = 0
    conv = assert_converts(model, (ids(), padding_mask()), fresh=0)
    result = conv.validate([(ids(), mask)])
    assert result.ok, result.table()


def test_bert_sanitize_loads_a_torch_checkpoint() -> None:
    """DESIGN 5: the top class's sanitize() maps any state_dict of the architecture."""
    model = bert("sdpa")
    inputs = (ids(),)
    conv = assert_converts(model, inputs, fresh=0)
    other = bert("sdpa")  # same architecture, different random weights
    _check_sanitize(conv, other, inputs)


# -- GPT-2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("attn", ATTN)
def test_gpt2_lm_head(attn: str, tmp_path: Path) -> None:
    model = gpt2(attn)
    inputs = (ids(),)
    conv = assert_converts(model, inputs, fresh=2)
    assert_only_mlx_and_stdlib(conv.source)
    check_saved(conv, model, inputs, tmp_path / "out")


class WithMask(torch.nn.Module):
    """GPT-2 takes past_key_values second: pass the padding mask by keyword."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        return self.model(input_ids=input_ids, attention_mask=attention_mask)


@pytest.mark.parametrize(
    "attn,side",
    [
        ("eager", "left"),
        ("eager", "right"),
        ("sdpa", "left"),
        ("sdpa", "right"),
    ],
)
def test_gpt2_padding_mask(attn: str, side: str, tmp_path: Path) -> None:
    model = WithMask(gpt2(attn)).eval()
    mask = torch.ones(2, 7, dtype=torch.long)
    if side == "left":
        mask[1, :3] = 0
    else:
        mask[1, 4:] = 0
    inputs = (ids(), mask)
    with torch.no_grad():  # the mask must matter, or this test could not fail on it
        assert not torch.allclose(model.model(inputs[0]).logits[1], model(*inputs).logits[1])
    conv = assert_converts(model, inputs, fresh=0)
    result = conv.validate([inputs, (ids(3), padding_side(3, side))])
    assert result.ok, result.table()
    assert_only_mlx_and_stdlib(conv.source)
    check_saved(conv, model, inputs, tmp_path / "out")


def padding_side(batch: int, side: str) -> torch.Tensor:
    mask = torch.ones(batch, 7, dtype=torch.long)
    for row in range(batch):
        pad = row * 2
        if pad:
            mask[row, :pad] = 0 if side == "left" else 1
            if side == "right":
                mask[row, 7 - pad :] = 0
    return mask


@pytest.mark.parametrize("make", [bert, gpt2], ids=["bert", "gpt2"])
def test_other_batch_sizes_and_lengths(make: Any) -> None:
    """Batch and sequence length stay symbolic: nothing is baked in."""
    model = make("sdpa")
    conv = assert_converts(model, (ids(),), fresh=0)
    assert conv.report.dynamic_dims == ["input_ids.shape[0]", "input_ids.shape[1]"]
    result = conv.validate([(ids(1),), (ids(5),), (torch.randint(0, 99, (3, 12)),)])
    assert result.ok, result.table()
    assert conv.report.baked_dims == []


def test_gpt2_sanitize_loads_a_torch_checkpoint() -> None:
    model = gpt2("sdpa")
    inputs = (ids(),)
    conv = assert_converts(model, inputs, fresh=0)
    _check_sanitize(conv, gpt2("sdpa"), inputs)


def _check_sanitize(conv: Any, other: torch.nn.Module, inputs: tuple) -> None:
    import mlx.core as mx

    with torch.no_grad():
        expected = other(*inputs)
    assert not torch.allclose(expected[0], conv.model(*inputs)[0])  # really other weights
    namespace: dict[str, Any] = {}
    exec(compile(conv.source, "model.py", "exec"), namespace)  # noqa: S102 - our own output
    top = namespace[type(conv.model).__name__]()
    weights = {k: to_mlx(v) for k, v in other.state_dict().items()}
    top.load_weights(list(top.sanitize(weights).items()), strict=True)
    top.eval()
    got = top(*[to_mlx(x) for x in inputs])
    mx.eval(got)
    checks = compare(expected, got, rtol=1e-4, atol=1e-3)
    assert checks and all(c.ok for c in checks), checks


# -- more architectures, same checks -------------------------------------------------------


def llama(attn: str) -> torch.nn.Module:
    """Rotary embeddings, RMSNorm, SwiGLU, grouped-query attention (4 heads, 2 kv heads)."""
    config = transformers.LlamaConfig(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        use_cache=False,
        attn_implementation=attn,
    )
    return transformers.LlamaForCausalLM(config).eval()


def distilbert(attn: str) -> torch.nn.Module:
    config = transformers.DistilBertConfig(
        vocab_size=99,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=37,
        max_position_embeddings=64,
        attn_implementation=attn,
    )
    return transformers.DistilBertModel(config).eval()


def roberta(attn: str) -> torch.nn.Module:
    """Position ids from the input ids (cumsum of non-padding tokens past padding_idx)."""
    config = transformers.RobertaConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        attn_implementation=attn,
    )
    return transformers.RobertaModel(config).eval()


def bert_classifier(attn: str) -> torch.nn.Module:
    config = transformers.BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=3,
        attn_implementation=attn,
    )
    return transformers.BertForSequenceClassification(config).eval()


def vit(attn: str) -> torch.nn.Module:
    config = transformers.ViTConfig(
        image_size=16,
        patch_size=4,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        attn_implementation=attn,
    )
    return transformers.ViTModel(config).eval()


def roberta_ids() -> torch.Tensor:
    # RoBERTa's padding_idx is 1 and positions start after it: keep 0/1 out of the example, so
    # the fresh inputs (drawn within the example's range) have no padding either
    return torch.randint(2, 99, (2, 7))


MORE = {
    "llama": (llama, lambda: (ids(),)),
    "distilbert": (distilbert, lambda: (ids(),)),
    "roberta": (roberta, lambda: (roberta_ids(),)),
    "bert-classifier": (bert_classifier, lambda: (ids(),)),
    "vit": (vit, lambda: (torch.randn(2, 3, 16, 16),)),
}


@pytest.mark.parametrize("attn", ATTN)
@pytest.mark.parametrize("name", list(MORE))
def test_more_architectures(name: str, attn: str, tmp_path: Path) -> None:
    make, example = MORE[name]
    model = make(attn)
    inputs = example()
    conv = assert_converts(model, inputs)
    assert_only_mlx_and_stdlib(conv.source)
    check_saved(conv, model, inputs, tmp_path / "out")


@pytest.mark.parametrize(
    "attn,side",
    [
        ("eager", "left"),
        ("sdpa", "left"),
        ("sdpa", "right"),
    ],
)
def test_llama_padding_mask(attn: str, side: str) -> None:
    model = WithMask(llama(attn)).eval()
    inputs = (ids(), padding_side(2, side))
    with torch.no_grad():
        assert not torch.allclose(model.model(inputs[0]).logits[1], model(*inputs).logits[1])
    conv = assert_converts(model, inputs, fresh=0)
    result = conv.validate([inputs, (ids(3), padding_side(3, side))])
    assert result.ok, result.table()
