"""The report from fixed run records: sections, sentences that follow the numbers,
the answer first, the article side by side, one language throughout."""

import re

import pytest

from llmbench.report.strings import load_strings
from records import record, render_all, scenario

SCENARIOS = {
    "loop": scenario("loop", output_tokens=4, repetitions=3),
    "threads": scenario("threads", output_tokens=4, repetitions=3),
    "sweep": scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 4], repetitions=3),
}


def runs(speeds=None, replicas=2, gpu=False, failed=(), **kwargs):
    speeds = speeds or {"hf": 1.0, "fastllm": 3.0}
    return [
        record(
            backend,
            name,
            s,
            replica=r,
            speed=speed * (1 + 0.02 * r),
            gpu=gpu,
            seed=r,
            status="failed" if (backend, name) in failed else "ok",
            **kwargs,
        )  # fmt: skip
        for r in range(replicas)
        for name, s in SCENARIOS.items()
        for backend, speed in speeds.items()
    ]


def sections(md: str) -> dict[str, str]:
    parts = re.split(r"^(#{2,3} .+)$", md, flags=re.M)
    return {parts[i].lstrip("# ").strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_report_has_the_articles_sections_and_the_answer_first(tmp_path, language):
    t = load_strings(language)
    md = render_all(runs(gpu=True), tmp_path, SCENARIOS, language)["md"]
    order = [t.headings.answer, t.headings.article, t.headings.environment, t.headings.loop, t.headings.threads,
             t.headings.resources, t.headings.summary]  # fmt: skip
    positions = [md.index(f" {heading}\n") for heading in order]
    assert positions == sorted(positions)
    answer = sections(md)[t.headings.answer]
    assert "|" not in answer and len([line for line in answer.splitlines() if line.startswith("- ")]) == 3
    assert "fastllm" in answer and "MiB" in answer


def test_summary_points_are_not_copies_of_the_analysis(tmp_path):
    md = render_all(runs(gpu=True), tmp_path, SCENARIOS, "zh")["md"]
    t = load_strings("zh")
    summary = sections(md)[t.headings.points] + sections(md)[t.headings.limits]
    rest = md.replace(sections(md)[t.headings.points], "").replace(sections(md)[t.headings.limits], "")
    points = [line[2:] for line in summary.splitlines() if line.startswith("- ")]
    assert (
        3
        <= len([line for line in sections(md)[t.headings.points].splitlines() if line.startswith("- ")])
        <= 6
    )
    for point in points:
        for sentence in filter(None, re.split(r"(?<=。)|(?<=\.)\s", point)):
            assert sentence not in rest, sentence


def test_a_chinese_report_has_no_english_table_header(tmp_path):
    md = render_all(runs(gpu=True, replicas=1), tmp_path, SCENARIOS, "zh")["md"]
    headers = [line for i, line in enumerate(md.splitlines()) if line.startswith("|") and
               i + 1 < len(md.splitlines()) and md.splitlines()[i + 1].startswith("|---")]  # fmt: skip
    assert headers
    for header in headers:
        for cell in header.strip("|").split("|"):
            cell = cell.strip()
            assert re.search(r"[\u4e00-\u9fff]", cell) or cell in ("GPU",), (cell, header)


def test_the_article_is_set_side_by_side(tmp_path):
    md = render_all(runs(), tmp_path, SCENARIOS, "zh")["md"]
    article = sections(md)[load_strings("zh").headings.article]
    assert "28,375.3" in article and "16,176.2" in article and "1.75×" in article
    assert "32,345.9" in article and "10,974.1" in article and "2.95×" in article
    row = next(line for line in article.splitlines() if line.startswith("| For循环"))
    assert re.search(r"\| 3\.\d\d× \(\d\.\d\d–\d\.\d\d\) \|$", row), row  # this run's speedup with its CI


def test_the_comparison_follows_the_numbers_and_says_when_it_is_significant(tmp_path):
    md = render_all(runs({"hf": 1.0, "fastllm": 3.0}), tmp_path / "a", SCENARIOS, "en")["md"]
    assert re.search(r"\*\*loop\*\*: fastllm is 3\.\d\d× \([\d.]+–[\d.]+\) faster than hf", md)
    assert "a significant difference" in md and "2 processes" in md
    md = render_all(runs({"hf": 3.0, "fastllm": 1.0}), tmp_path / "b", SCENARIOS, "en")["md"]
    assert re.search(r"\*\*loop\*\*: fastllm is 3\.\d\d× \([\d.]+–[\d.]+\) slower than hf", md)


def test_overlapping_results_are_not_called_a_win(tmp_path):
    noisy = [record(b, "loop", SCENARIOS["loop"], replica=r, speed=s, seed=r)
             for r, (a, c) in enumerate([(1.0, 1.1), (1.1, 0.95), (0.9, 1.0)]) for b, s in (("hf", a), ("fastllm", c))]  # fmt: skip
    md = render_all(noisy, tmp_path, {"loop": SCENARIOS["loop"]}, "en")["md"]
    assert "not significant" in md


def test_a_failed_run_still_renders_with_its_reason(tmp_path):
    result = render_all(runs(failed={("fastllm", "threads")}), tmp_path, SCENARIOS, "en")
    assert "Run tiny/fastllm/threads/0 failed: OutOfMemoryError" in result["md"]
    assert "CUDA out of memory" in result["html"].read_text()


def test_the_header_names_the_version_and_the_title_the_measured_device(tmp_path):
    from llmbench import __version__

    md = render_all(runs(gpu=True), tmp_path, SCENARIOS, "en")["md"]
    assert md.startswith("# tiny inference benchmark: hf, fastllm on NVIDIA Test GPU\n")
    assert f"llmbench {__version__}" in md.splitlines()[2]


def test_tokens_faster_than_the_token_clock_are_a_limitation(tmp_path):
    fast = runs({"hf": 1.0, "fastllm": 20.0})  # fastllm: 0.5 ms a token, its clock 0.58 ms
    md = render_all(fast, tmp_path, SCENARIOS, "en")["md"]
    limits = sections(md)["Limitations"]
    assert "less than twice their token clock's resolution: tiny/fastllm/loop" in limits
    assert "tiny/hf/" not in limits.split("token clock")[1].split("\n")[0]


def test_cpu_bound_runs_are_diagnosed(tmp_path):
    records = runs(gpu=True)
    for r in records:
        if r.key.backend == "hf":
            r.resources.gpu_busy_fraction = 0.23
            r.resources.cpu_s = r.measurement.passes()[0].total_ms / 1000 * len(r.measurement.passes()) * 1.2
    md = render_all(records, tmp_path, SCENARIOS, "en")["md"]
    assert "the host CPU: the GPU was busy only 23 % of the time" in md
    assert "These runs are limited by the host CPU" in md


@pytest.mark.parametrize("language", ["zh", "en"])
def test_without_a_gpu_the_memory_point_names_host_memory_only(tmp_path, language):
    md = render_all(runs(gpu=False), tmp_path, SCENARIOS, language)["md"]
    t = load_strings(language)
    point = next(line for line in sections(md)[t.headings.points].splitlines() if "MiB" in line)
    assert point.startswith("- " + t.points.memory_host.split("{")[0]), point
    assert "–" not in point.split("。")[0].split(". ")[0] and "nan" not in point.lower(), point
    for backend in ("hf", "fastllm"):
        assert re.search(re.escape(backend) + r"[^,，、;；]*\d+ MiB", point), point
