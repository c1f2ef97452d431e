"""Every module a rule runs is declared as its input, so editing it reruns the rule."""

import ast
import json
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from llmbench.codedeps import (
    RULE_ENTRIES,
    closure,
    import_cycles,
    module_path,
    package_imports,
    rule_code,
)

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


@pytest.mark.slow
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


def test_no_module_of_the_package_imports_itself_back_through_others():
    cycles = import_cycles(package_imports())
    assert cycles == [], f"import cycles (each a group of modules importing one another): {cycles}"


def test_the_graph_covers_every_module_and_sees_type_checking_imports():
    graph = package_imports()
    assert len(graph) == len(list((REPO / "src" / "llmbench").rglob("*.py")))
    assert "llmbench.scenario_types" in graph["llmbench.record"]  # imported under TYPE_CHECKING


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded 2-core machine
@given(
    st.integers(min_value=2, max_value=12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(
                st.integers(0, n - 2).flatmap(lambda a: st.tuples(st.just(a), st.integers(a + 1, n - 1)))
            ),
            st.lists(st.integers(0, n - 1), min_size=2, max_size=n, unique=True),
        )
    )
)
def test_a_planted_cycle_is_found_and_imports_pointing_down_have_none(case):
    n, downward, loop = case
    graph = {f"m{i}": frozenset(f"m{j}" for a, j in downward if a == i) for i in range(n)}
    assert import_cycles(graph) == []
    for a, b in zip(loop, loop[1:] + loop[:1], strict=True):
        graph[f"m{a}"] = graph[f"m{a}"] | {f"m{b}"}
    found = import_cycles(graph)
    assert any({f"m{i}" for i in loop} <= set(group) for group in found)


def test_convert_fastllm_depends_only_on_the_code_it_runs():
    assert rule_code("convert_fastllm") == [
        "scripts/convert_fastllm.py",
        "src/llmbench/__init__.py",
        "src/llmbench/child.py",
        "src/llmbench/logs.py",
        "src/llmbench/models/__init__.py",
        "src/llmbench/models/flm_export.py",
    ]
