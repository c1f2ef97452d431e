"""The words of the report and its figures, per language, from report/strings/<language>.yaml.

Every heading, table header, unit, sentence, plot title, axis and legend label
is a key there, so a report is in one language throughout and a new language
is one file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

STRINGS_DIR = Path(__file__).resolve().parents[3] / "report" / "strings"


class Strings(dict):
    """A language's strings: t["key"], t.key (templates), t.f("key", **values) (formatted)."""

    def __getattr__(self, name: str):
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(f"no string {name!r}") from None
        return Strings(value) if isinstance(value, dict) else value

    def f(self, key: str, **values) -> str:
        """The template at the dotted `key` (e.g. "limits.cpu") formatted with `values`; raises KeyError
        for an unknown key."""
        value = self
        for part in key.split("."):
            value = value[part]
        return value.format(**values)


def load_strings(path_or_language: str | Path) -> Strings:
    """A strings file, or the bundled one of a language code ("zh", "en")."""
    path = Path(path_or_language)
    if path.suffix != ".yaml":
        path = STRINGS_DIR / f"{path_or_language}.yaml"
    return Strings(yaml.safe_load(path.read_text(encoding="utf-8")))
