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
    """The article's measurements, per backend of this project (the keys of `backends`).

    `backends` maps the two backends of this project that the article compared to
    what it ran, the baseline first (its speedups are the baseline's time over the
    other's). Times are one pass's wall time in ms; memory is torch's view in MB (the
    article's MB are MiB: it divides by 1024**2)."""

    source: str
    gpu: str
    model: str
    backends: dict[str, str]
    loop_total_ms: dict[str, float]
    threads_total_ms: dict[str, float]
    torch_memory_mb: dict[str, dict[str, float]]

    @property
    def pair(self) -> tuple[str, str]:
        """(baseline, other): the two backends the article compared, in `backends` order."""
        base, other = self.backends
        return base, other

    def total_ms(self, measurement: str) -> dict[str, float]:
        """backend -> one pass's wall time (ms) of the article's `measurement`: "loop" or "threads"
        (ScenarioType.article); raises KeyError for another."""
        return {"loop": self.loop_total_ms, "threads": self.threads_total_ms}[measurement]


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
    if not isinstance(article.backends, dict) or len(article.backends) != 2:
        raise ArticleError(f"{path}: backends must map exactly two backends (the baseline first)")
    for name in ("loop_total_ms", "threads_total_ms"):
        values = getattr(article, name)
        if not isinstance(values, dict) or not all(
            isinstance(v, (int, float)) and v > 0 for v in values.values()
        ):
            raise ArticleError(f"{path}: {name} must map backends to positive milliseconds")
    return article
