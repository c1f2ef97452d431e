"""Which code each rule runs: one table of entry points, closed over imports.

Snakemake reruns a `script:` rule when the script changes, not when a module it
imports does. So every rule declares, as an input, the package modules its
script reaches: the table below names each rule's entry points (its script,
and modules started as separate processes, which no import shows), and
`rule_code` adds everything they import, at any depth, found by reading the
source (imports inside functions included). A test imports each rule's entry
points for real and fails if any module it loads is missing from the result.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "llmbench"

# rule -> entry points: script paths, or modules (a `{backend}` placeholder is filled in per job).
RULE_ENTRIES: dict[str, list[str]] = {
    "acquire_model": ["scripts/acquire_model.py"],
    "prepare_transformers": ["scripts/prepare_transformers.py"],
    "prepare_fastllm": ["scripts/prepare_fastllm.py"],
    "convert_fastllm": [
        "scripts/convert_fastllm.py",
        "llmbench.models.flm_export",
    ],  # converts in a child process
    "convert_llamacpp": ["scripts/convert_llamacpp.py"],
    "quantize_llamacpp": ["scripts/quantize_llamacpp.py"],
    "tokenize_prompts": ["scripts/tokenize_prompts.py"],
    "describe_model": ["scripts/describe_model.py"],
    "run_benchmark": ["scripts/run_benchmark.py", "llmbench.measure.worker", "llmbench.backends.{backend}"],
    "measure_bandwidth": ["scripts/measure_bandwidth.py"],
    "collect_results": ["scripts/collect_results.py"],
    "derive_tables": ["scripts/derive_tables.py"],
    "derive_precision": ["scripts/derive_precision.py"],
    "check_agreement": ["scripts/check_agreement.py"],
    "plot_scenario": ["scripts/plot_scenario.py"],
    "plot_model": ["scripts/plot_model.py"],
    "plot_precision": ["scripts/plot_precision.py"],
    "render_report": ["scripts/render_report.py"],
    "judge_outcome": ["scripts/judge_outcome.py"],
}


def module_path(module: str) -> Path | None:
    """The file of package module `module` (a package's __init__.py), or None."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = ROOT / "src" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_of(path: Path) -> str | None:
    try:
        relative = path.resolve().relative_to(ROOT / "src")
    except ValueError:
        return None
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def direct_imports(path: Path) -> frozenset[str]:
    """Package modules that the file at `path` imports anywhere in its body."""
    module = _module_of(path)
    package = module if module and path.name == "__init__.py" else (module or "").rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.split(".")
                base = ".".join(parent[: len(parent) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return frozenset(m for m in found if module_path(m) is not None)


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def closure(entries: list[str]) -> list[str]:
    """Files (relative to the repository) of `entries` and every package module they reach."""
    files: set[Path] = set()
    todo = []
    for entry in entries:
        path = module_path(entry) if not entry.endswith(".py") else ROOT / entry
        if path is None or not path.is_file():
            raise FileNotFoundError(f"entry point {entry} does not exist")
        todo.append(path)
        if not entry.endswith(".py"):
            todo += [module_path(m) for m in _with_parents(entry)]
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        for module in direct_imports(path):
            todo += [module_path(m) for m in _with_parents(module)]
    return sorted(str(p.relative_to(ROOT)) for p in files)


def rule_code(rule: str, **wildcards: str) -> list[str]:
    """The code files rule `rule` runs, for a job with these wildcards."""
    entries = [e.format(**{k: v.replace("-", "_") for k, v in wildcards.items()}) for e in RULE_ENTRIES[rule]]
    return closure(entries)


def package_imports() -> dict[str, frozenset[str]]:
    """Every module of the package (dotted name) -> the package modules it imports anywhere in its body
    (inside functions and `if TYPE_CHECKING:` too): the edges `rule_code` follows."""
    files = sorted((ROOT / "src" / PACKAGE).rglob("*.py"))
    return {_module_of(path): direct_imports(path) - {_module_of(path)} for path in files}


def import_cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module in `graph` (module -> modules it imports),
    each sorted; [] when the imports point one way only. Iterative Kosaraju: no recursion limit."""
    order: list[str] = []
    seen: set[str] = set()
    for start in graph:
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        if start in seen:
            continue
        seen.add(start)
        while stack:
            node, children = stack[-1]
            child = next((c for c in children if c not in seen), None)
            if child is None:
                order.append(node)
                stack.pop()
            else:
                seen.add(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    reverse: dict[str, set[str]] = {}
    for node, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    groups, assigned = [], set()
    for root in reversed(order):
        if root in assigned:
            continue
        group, todo = [], [root]
        assigned.add(root)
        while todo:
            node = todo.pop()
            group.append(node)
            todo += [n for n in reverse.get(node, ()) if n not in assigned]
            assigned.update(reverse.get(node, ()))
        if len(group) > 1:
            groups.append(sorted(group))
    return sorted(groups)
