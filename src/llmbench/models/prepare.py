"""From the acquired checkpoint to the folder each kind of backend loads.

Native checkpoints are mirrored with per-file symlinks (nothing copied).
ChatGLM2 checkpoints are ported for transformers (GLM) and completed for
FastLLM (safetensors weights, a tokenizer class it accepts).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import chatglm2

# ftllm 1.9.0 refuses other tokenizer classes ("Unsupport tokenizer_class").
FASTLLM_TOKENIZER_CLASS = "PreTrainedTokenizerFast"


def mirror(source: str | Path, target: str | Path, skip: set[str] = frozenset()) -> None:
    """Per-file symlinks of `source` in `target`: removing the mirror (Snakemake
    does on failure) can never delete the files it points to."""
    source, target = Path(source).resolve(), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if (
            path.is_file()
            and str(relative) not in skip
            and not any(p.startswith(".") for p in relative.parts)
        ):
            link = target / relative
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)


def transformers_folder(source: str | Path, target: str | Path) -> str:
    """The folder `transformers` loads natively; returns what was done."""
    if chatglm2.is_chatglm2(chatglm2.read_config(source)):
        chatglm2.write_glm_folder(source, target)
        return "ChatGLM2 checkpoint ported to transformers' GlmForCausalLM"
    mirror(source, target)
    return "native checkpoint, mirrored"


def fastllm_folder(source: str | Path, target: str | Path) -> str:
    """The folder ftllm loads; returns what was done."""
    source, target = Path(source), Path(target)
    written = []
    if chatglm2.is_chatglm2(chatglm2.read_config(source)):
        has_safetensors = any(source.glob("*.safetensors"))
        has_fast_tokenizer = (source / "tokenizer.json").is_file()
        # Without a fast tokenizer ftllm would be pointed at the SentencePiece one it refuses.
        skip = set() if has_fast_tokenizer else {"tokenizer_config.json", "tokenizer.model"}
        mirror(source, target, skip={p.name for p in source.glob("pytorch_model*.bin*")} | skip)
        if not has_safetensors:
            chatglm2.save_weights(chatglm2.load_weights(source), target)
            written.append("weights as safetensors (ftllm refuses pytorch_model.bin)")
        if not has_fast_tokenizer:
            chatglm2.write_tokenizer_files(target)
            written.append(
                "a stand-in fast tokenizer (ftllm refuses ChatGLMTokenizer; it is given ids, never text)"
            )
    else:
        mirror(source, target, skip={"tokenizer_config.json"})
    config_path = source / "tokenizer_config.json"
    if config_path.is_file() and not (target / "tokenizer_config.json").exists():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("tokenizer_class") != FASTLLM_TOKENIZER_CLASS:
            written.append(
                f"tokenizer_class {config.get('tokenizer_class')} renamed {FASTLLM_TOKENIZER_CLASS}"
            )
            config["tokenizer_class"] = FASTLLM_TOKENIZER_CLASS
            config.pop("auto_map", None)
        (target / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n")
    return "; ".join(written) or "mirrored unchanged"
