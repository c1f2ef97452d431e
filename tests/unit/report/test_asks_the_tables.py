"""The report asks the tables: no scenario type or backend is named in its code."""

import ast

import pytest

from conftest import REPO
from llmbench.backends import available, improvements_of
from llmbench.report.article import ArticleError, read_article
from llmbench.scenario_types import SECTIONS, TYPES, types_where

REPORT = REPO / "src" / "llmbench" / "report"


def _literals(path):
    """String constants of a module that are not docstrings, with their line."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", sorted(REPORT.rglob("*.py")), ids=lambda p: str(p.relative_to(REPORT)))
def test_no_backend_is_named_and_no_scenario_type_compared_by_name(path):
    backends = set(available())
    named = [(line, text) for line, text in _literals(path) if text in backends]
    assert named == [], f"{path.name} names backends: {named}"
    tree = ast.parse(path.read_text())
    compared = [
        (node.lineno, side.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        for side in [node.left, *node.comparators]
        if isinstance(side, ast.Constant) and side.value in TYPES and side.value not in SECTIONS
    ]
    assert compared == [], f"{path.name} branches on scenario-type names: {compared}"


def test_every_type_says_what_it_compares_and_the_article_repeats_each_section_once():
    assert {kind.compares for kind in TYPES.values()} <= {"total_ms", "output_tokens_per_s"}
    for section in SECTIONS:
        assert len(types_where(article=section)) == 1
        assert types_where(section=section)[0] == types_where(article=section)[0]  # the article's type first
    assert all(TYPES[k].compares == "output_tokens_per_s" for k in types_where(swept=True))


def test_the_best_use_of_a_backend_comes_from_the_backends_table():
    for name in available():
        for best in improvements_of(name):
            assert best != name and best in available()
    assert improvements_of("no-such-backend") == []


def test_the_article_names_its_pair_baseline_first(tmp_path):
    article = read_article(REPO / "config" / "article.yaml")
    base, other = article.pair
    assert article.total_ms("loop")[base] > article.total_ms("loop")[other]  # the article: FastLLM faster
    bad = tmp_path / "article.yaml"
    text = (REPO / "config" / "article.yaml").read_text()
    bad.write_text(text.replace("backends:\n", "backends:\n  llamacpp: a third one\n", 1))
    with pytest.raises(ArticleError, match="backends must map exactly two backends"):
        read_article(bad)
