"""The test tree itself: pytest's default import mode ("prepend") imports each test module by its basename, so two
test files with one basename anywhere under tests/ stop the whole collection ("import file mismatch") — and the
fast unit loop alone, which never collects tests/system, would not notice."""

from collections import Counter
from pathlib import Path

from conftest import REPO


def duplicate_basenames(root: Path) -> list[str]:
    """Basenames of test modules (``test_*.py``) found more than once under ``root``, sorted."""
    counts = Counter(path.name for path in root.rglob("test_*.py"))
    return sorted(name for name, count in counts.items() if count > 1)


def test_every_test_module_basename_is_unique_under_tests():
    assert duplicate_basenames(REPO / "tests") == []


def test_a_basename_repeated_in_two_folders_is_found(tmp_path):
    for folder in ("unit/backends", "system"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "test_served.py").write_text("")
    (tmp_path / "unit" / "test_once.py").write_text("")
    assert duplicate_basenames(tmp_path) == ["test_served.py"]
