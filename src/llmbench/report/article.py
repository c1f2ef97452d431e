"""The article's own figures (config/article.yaml), read and checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


class ArticleError(ValueError):
    """The article's figures file is missing, unreadable or wrong; the message says what."""

    pass


@dataclass(frozen=True)
class Article:
    """The article's measurements, per backend of this project (`hf`, `fastllm`).

    Times are one pass's wall time in ms; memory is torch's view in MB (the
    article's MB are MiB: it divides by 1024**2)."""

    source: str
    gpu: str
    model: str
    backends: dict[str, str]
    loop_total_ms: dict[str, float]
    threads_total_ms: dict[str, float]
    torch_memory_mb: dict[str, dict[str, float]]


def read_article(path: str | Path) -> Article:
    """Raises ArticleError naming what is missing or wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArticleError(f"{path} does not exist") from None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise ArticleError(f"{path} is not readable YAML: {error}") from None
    if not isinstance(data, dict):
        raise ArticleError(f"{path} holds no mapping")
    try:
        article = Article(**data)
    except TypeError as error:
        raise ArticleError(f"{path}: {error}") from None
    for name in ("loop_total_ms", "threads_total_ms"):
        values = getattr(article, name)
        if not isinstance(values, dict) or not all(
            isinstance(v, (int, float)) and v > 0 for v in values.values()
        ):
            raise ArticleError(f"{path}: {name} must map backends to positive milliseconds")
    return article
