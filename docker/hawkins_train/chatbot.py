"""Chatbot: LoRA supervised fine-tuning of the base model on one character's chat lines.

Each training row is a conversation ending with the character's line. The prompt (the system
prompt and the turns before) is rendered with the tokenizer's chat template and the generation
prompt, exactly as the endpoint renders a request; the loss is taken on the character's line and
the end-of-turn token only. What is saved to /opt/ml/model is the adapter, the tokenizer (with its
chat template) and `hawkins.json`, which records the base model, the character and the system
prompt that the endpoint prepends when a request has none.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from . import data, loop
from .contract import Hyperparameters, JobError, Paths, channel_files, log, read_jsonl

ROLES = ("system", "user", "assistant")

# Used only when the base model's tokenizer has no chat template of its own (a base, not an
# instruct, model). It is saved with the tokenizer, so the endpoint renders prompts the same way.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n"
    "{% else %}Assistant: {{ message['content'] }}{{ eos_token }}\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def load_conversations(files: list[Path]) -> list[list[dict[str, str]]]:
    conversations: list[list[dict[str, str]]] = []
    for path in files:
        for number, row in read_jsonl(path):
            where = f"{path.name} line {number}"
            messages = row.get("messages") if isinstance(row, dict) else None
            if not isinstance(messages, list) or len(messages) < 2:
                raise JobError(f"{where} has no 'messages' list with at least a user and an assistant turn.")
            cleaned: list[dict[str, str]] = []
            for message in messages:
                if (
                    not isinstance(message, dict)
                    or message.get("role") not in ROLES
                    or not isinstance(message.get("content"), str)
                ):
                    raise JobError(
                        f"{where}: every message needs a role (system, user or assistant) and a text content."
                    )
                cleaned.append({"role": message["role"], "content": message["content"]})
            if cleaned[-1]["role"] != "assistant" or not cleaned[-1]["content"].strip():
                raise JobError(f"{where} must end with the character's line (a non-empty assistant message).")
            if not any(m["role"] == "user" for m in cleaned):
                raise JobError(f"{where} has no user turn for the character to answer.")
            conversations.append(cleaned)
    if not conversations:
        raise JobError("The chat dataset is empty: the training channel's .jsonl files hold no rows.")
    return conversations


def character_system_prompt(conversations: list[list[dict[str, str]]], character: str) -> str:
    prompts = Counter(c[0]["content"] for c in conversations if c[0]["role"] == "system" and c[0]["content"].strip())
    if prompts:
        return prompts.most_common(1)[0][0]
    log("no row carries a system prompt: using a plain one naming the character")
    return f"You are {character}. Answer in character."


def encode(
    tokenizer: Any, messages: list[dict[str, str]], system_prompt: str, max_len: int
) -> tuple[list[int], list[int], bool]:
    """(input ids, labels, truncated): labels are -100 on the prompt."""
    if messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system_prompt}] + messages
    prompt = list(tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True))
    target = list(tokenizer(messages[-1]["content"], add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
    truncated = False
    if len(prompt) + len(target) > max_len:
        truncated = True
        target = target[: max(1, max_len - min(len(prompt), max_len // 2))]
        prompt = prompt[len(prompt) - (max_len - len(target)) :]
    return prompt + target, [-100] * len(prompt) + target, truncated


def load_tokenizer(hp: Hyperparameters, token: str | None) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(hp.base_model, token=token)
    except (OSError, ValueError) as err:
        raise JobError(
            f"Could not load the tokenizer of base_model '{hp.base_model}': {err}. For a gated model, "
            "set hf_token_secret_arn to a secret holding a token with access to it."
        ) from None
    if tokenizer.eos_token_id is None:
        raise JobError(f"The tokenizer of '{hp.base_model}' has no end-of-sequence token; the chatbot needs one.")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        log("the base model's tokenizer has no chat template: using Hawkins' plain User/Assistant template")
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return tokenizer


def train(hp: Hyperparameters, paths: Paths, token: str | None, stop: loop.StopFlag) -> dict[str, float]:
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM

    assert hp.character is not None
    files = channel_files(paths.train_channel, f"the chat dataset of {hp.character}")
    conversations = load_conversations(files)
    system_prompt = character_system_prompt(conversations, hp.character)
    tokenizer = load_tokenizer(hp, token)

    examples: list[tuple[list[int], list[int]]] = []
    n_truncated = 0
    for messages in conversations:
        ids, labels, truncated = encode(tokenizer, messages, system_prompt, hp.max_seq_length)
        n_truncated += truncated
        examples.append((ids, labels))
    if n_truncated:
        log(f"{n_truncated} of {len(examples)} conversations were cut to max_seq_length={hp.max_seq_length}")
    train_idx, eval_idx = data.split_indices(len(examples), hp.eval_fraction, hp.seed)
    train_set = [examples[i] for i in train_idx]
    eval_set = [examples[i] for i in eval_idx]
    log(f"{len(train_set)} training and {len(eval_set)} held-out conversations from {', '.join(f.name for f in files)}")

    torch.manual_seed(hp.seed)
    device = loop.pick_device()
    bf16 = loop.use_bf16(hp, device)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            hp.base_model, dtype=torch.bfloat16 if bf16 else torch.float32, token=token
        )
    except (OSError, ValueError) as err:
        raise JobError(f"Could not load base_model '{hp.base_model}' as a causal language model: {err}.") from None
    model.to(device)
    model.config.use_cache = False
    if hp.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    targets: Any = hp.lora_target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    lora = LoraConfig(
        r=hp.lora_r,
        lora_alpha=hp.lora_alpha,
        lora_dropout=hp.lora_dropout,
        target_modules=targets,
        task_type=TaskType.CAUSAL_LM,
    )
    try:
        model = get_peft_model(model, lora)
    except ValueError as err:
        raise JobError(f"LoRA could not be applied to '{hp.base_model}': {err}. Check lora_target_modules.") from None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(
        f"LoRA r={hp.lora_r} alpha={hp.lora_alpha:g} on {hp.lora_target_modules}: {trainable} trainable parameters, "
        f"device {device}, {'bf16' if bf16 else 'fp32'}"
    )

    pad_id = tokenizer.pad_token_id

    def collate(batch: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, labs) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, : len(labs)] = torch.tensor(labs)
            attention[row, : len(ids)] = 1
        return {"input_ids": input_ids.to(device), "attention_mask": attention.to(device), "labels": labels.to(device)}

    def batch_loss(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(**batch).loss

    def evaluate() -> dict[str, float]:
        model.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(eval_set), hp.batch_size):
                batch = collate(eval_set[start : start + hp.batch_size])
                count = int((batch["labels"][:, 1:] != -100).sum())
                total += float(model(**batch).loss) * count
                tokens += count
        return {"eval_loss": total / max(tokens, 1)}

    schedule = loop.Schedule(len(train_set), hp.batch_size, hp.epochs, hp.max_steps, hp.seed)
    signature = {
        "kind": "chatbot",
        "base_model": hp.base_model,
        "character": hp.character,
        "data": data.fingerprint(files),
        "lora": [hp.lora_r, hp.lora_alpha, hp.lora_dropout, hp.lora_target_modules],
        "schedule": [hp.batch_size, hp.epochs, hp.max_steps, hp.seed, hp.eval_fraction, hp.max_seq_length],
        "optimizer": [hp.learning_rate, hp.warmup_ratio],
    }
    results = loop.run(
        model=model,
        hp=hp,
        schedule=schedule,
        make_batch=lambda indices: collate([train_set[i] for i in indices]),
        batch_loss=batch_loss,
        evaluate=evaluate if eval_set else None,
        store=loop.CheckpointStore(paths.checkpoints, signature),
        stop=stop,
    )

    paths.model_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(paths.model_dir)
    tokenizer.save_pretrained(paths.model_dir)
    loop.write_json(
        paths.model_dir / "hawkins.json",
        {
            "kind": "chatbot",
            "character": hp.character,
            "system_prompt": system_prompt,
            "base_model": hp.base_model,
            "max_seq_length": hp.max_seq_length,
        },
    )
    code = paths.model_dir / "code"
    code.mkdir(exist_ok=True)
    shutil.copyfile(Path(__file__).parent / "inference" / "chatbot.py", code / "inference.py")
    log(f"adapter for {hp.character} saved in {paths.model_dir}")
    return results
