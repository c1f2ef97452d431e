"""Every module a rule runs is declared as its input, so editing it reruns the rule."""

import ast
import json
import re
import subprocess
import sys

import pytest

from conftest import REPO
from llmbench.codedeps import RULE_ENTRIES, closure, module_path, rule_code

RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.M | re.S)


def rules_with_scripts() -> dict[str, str]:
    found = {}
    for path in (REPO / "rules").glob("*.smk"):
        for name, body in RULE.findall(path.read_text()):
            script = re.search(r'script:\s*\n\s*"\.\./(scripts/[\w.]+)"', body)
            if script:
                found[name] = (script.group(1), body)
    return found


def test_every_rule_with_a_script_is_in_the_table_and_declares_its_code():
    rules = rules_with_scripts()
    assert set(rules) == set(RULE_ENTRIES)
    for name, (script, body) in rules.items():
        assert RULE_ENTRIES[name][0] == script, name
        assert f'get_code("{name}")' in body or "get_builder_code" in body, (
            f"rule {name} declares no code input"
        )


def _imported_at_run_time(entries: list[str]) -> set[str]:
    """The llmbench modules loaded by importing what each entry imports, in a fresh interpreter."""
    modules = []
    for entry in entries:
        if entry.endswith(".py"):
            tree = ast.parse((REPO / entry).read_text())
            modules += [
                n.module
                for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("llmbench")
            ]
        else:
            modules.append(entry)
    code = (
        "import importlib, json, sys\n"
        + "".join(f"importlib.import_module({m!r})\n" for m in modules)
        + "print(json.dumps(sorted(m for m in sys.modules if m == 'llmbench' or m.startswith('llmbench.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("rule", sorted(RULE_ENTRIES))
def test_the_declared_code_covers_every_module_the_rule_loads(rule):
    backends = (
        ["hf", "fastllm", "hf-compile", "hf-remote"]
        if "{backend}" in " ".join(RULE_ENTRIES[rule])
        else [None]
    )
    for backend in backends:
        wildcards = {"backend": backend} if backend else {}
        declared = set(rule_code(rule, **wildcards))
        entries = [e.format(backend=(backend or "").replace("-", "_")) for e in RULE_ENTRIES[rule]]
        for module in _imported_at_run_time(entries):
            assert str(module_path(module).relative_to(REPO)) in declared, (rule, backend, module)


def test_imports_inside_functions_count_too():
    """prompts.encode_queries imports models.chatglm2 only when called."""
    assert "src/llmbench/models/chatglm2.py" in closure(["scripts/tokenize_prompts.py"])
