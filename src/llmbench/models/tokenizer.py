"""A byte-level BPE tokenizer the project builds itself, deterministically.

Synthetic models need a tokenizer that both backends accept, covers Chinese
prompts like the article's and fills exactly the model's vocabulary.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2

# ChatGLM2's prompt format as `model.chat` builds it for a single turn, so the
# article's queries reach the model the way the article sent them.
ROUNDS_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}"
    "[Round {{ loop.index0 // 2 + 1 }}]\n\n问：{{ message['content'] }}\n\n"
    "{% else %}答：{{ message['content'] }}\n\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}答：{% endif %}"
)
CHAT_TEMPLATE = "{{ bos_token }}" + ROUNDS_TEMPLATE


def _training_corpus(seed: int, lines: int = 20000) -> Iterator[str]:
    """Pseudo-random mixed CJK / ASCII text: enough distinct pairs for 65k merges."""
    rng = random.Random(seed)
    cjk = [chr(c) for c in range(0x4E00, 0x4E00 + 6000)]
    punctuation = list("，。？！：；“”（）,.?!:;") + ["\n"]
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 8))) for _ in range(3000)]
    for _ in range(lines):
        parts = []
        for _ in range(rng.randint(5, 20)):
            roll = rng.random()
            if roll < 0.6:
                parts.append("".join(rng.choice(cjk) for _ in range(rng.randint(1, 4))))
            elif roll < 0.9:
                parts.append(rng.choice(words))
            else:
                parts.append(rng.choice(punctuation))
        yield " ".join(parts)


def build_tokenizer(vocab_size: int, seed: int = 0) -> Tokenizer:
    """A byte-level BPE tokenizer of `vocab_size` tokens (<unk>, <s>, </s> first), trained on
    pseudo-random CJK / ASCII text from `seed`: the same tokenizer for the same arguments."""
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_corpus(seed), trainer)
    return tokenizer


def write_tokenizer(folder: Path, vocab_size: int, seed: int = 0, chat_template: str = CHAT_TEMPLATE) -> int:
    """Write tokenizer.json + tokenizer_config.json; returns the tokenizer's size."""
    tokenizer = build_tokenizer(vocab_size, seed)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        # FastLLM rejects the class name transformers 5 writes (TokenizersBackend).
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<unk>",
        "padding_side": "left",
        "model_max_length": 1_000_000,
        "clean_up_tokenization_spaces": False,
        "chat_template": chat_template,
    }
    (folder / "tokenizer_config.json").write_text(
        json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return tokenizer.get_vocab_size()
