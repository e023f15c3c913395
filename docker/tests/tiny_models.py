"""Small randomly initialised models and word-level tokenizers, built from a config with no
download: what the tests (and gpu_check.sh, at a larger size) pass as `base_model`."""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Iterable

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

DATA = Path(__file__).parent / "data"

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|> {{ message['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
CHAT_SPECIALS = ["<pad>", "<unk>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
ENCODER_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def sample_texts() -> list[str]:
    """Every string in the sample datasets, for the tokenizers' vocabularies."""
    texts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                walk(json.loads(line))
    texts.append("This text is about friendship fear loss family courage betrayal growing up.")
    texts.append("User: Assistant: The kids ride their bikes home.")
    return texts


def _word_level(texts: Iterable[str], specials: list[str], unk: str) -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel(unk_token=unk))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(list(texts), trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1))
    return tokenizer


def build_chat_tokenizer(texts: Iterable[str] | None = None) -> PreTrainedTokenizerFast:
    tokenizer = _word_level(texts or sample_texts(), CHAT_SPECIALS, "<unk>")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="<pad>",
        unk_token="<unk>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=4096,
    )


def build_encoder_tokenizer(texts: Iterable[str] | None = None) -> PreTrainedTokenizerFast:
    tokenizer = _word_level(texts or sample_texts(), ENCODER_SPECIALS, "[UNK]")
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        unk_token="[UNK]",
        mask_token="[MASK]",
        model_max_length=128,
    )


def build_causal_lm(
    target: Path, hidden: int = 32, layers: int = 2, heads: int = 4, kv_heads: int = 2, intermediate: int = 64
) -> Path:
    """A Llama-architecture model with random weights and the chat tokenizer, saved to `target`."""
    import torch

    tokenizer = build_chat_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def _bert_config(tokenizer: PreTrainedTokenizerFast, **extra: object) -> BertConfig:
    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def build_encoder(target: Path) -> Path:
    """A BERT-architecture encoder without a classification head (as a pretrained checkpoint is)."""
    import torch

    tokenizer = build_encoder_tokenizer()
    torch.manual_seed(0)
    BertModel(_bert_config(tokenizer)).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def build_nli(target: Path, labels: tuple[str, ...] = ("contradiction", "neutral", "entailment")) -> Path:
    """A BERT-architecture three-way NLI classifier with random weights."""
    import torch

    tokenizer = build_encoder_tokenizer()
    config = _bert_config(
        tokenizer,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
