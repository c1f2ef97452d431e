"""The report from fixed run records: sections, sentences that follow the numbers,
the answer first, the article side by side, one language throughout."""

import re

import pytest

from llmbench.report.format import UNRESOLVED_RATIO
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
        )
        for r in range(replicas)
        for name, s in SCENARIOS.items()
        for backend, speed in speeds.items()
    ]


def sections(md: str) -> dict[str, str]:
    parts = re.split(r"^(#{2,3} .+)$", md, flags=re.M)
    return {parts[i].lstrip("# ").strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.mark.slow
@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_report_has_the_articles_sections_and_the_answer_first(tmp_path, language):
    t = load_strings(language)
    md = render_all(runs(gpu=True), tmp_path, SCENARIOS, language)["md"]
    order = [
        t.headings.answer,
        t.headings.article,
        t.headings.environment,
        t.headings.loop,
        t.headings.threads,
        t.headings.resources,
        t.headings.summary,
    ]
    positions = [md.index(f" {heading}\n") for heading in order]
    assert positions == sorted(positions)
    answer = sections(md)[t.headings.answer]
    assert "|" not in answer and len([line for line in answer.splitlines() if line.startswith("- ")]) == 3
    assert "fastllm" in answer and "MiB" in answer
    results = sections(md)[t.headings.results]
    intro = t.f("results_intro", ratio=f"{UNRESOLVED_RATIO:g}")
    assert results.strip().startswith(intro) and " ± " in results  # "±" is defined where it is used


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_chinese_report_has_no_english_table_header(tmp_path):
    md = render_all(runs(gpu=True, replicas=1), tmp_path, SCENARIOS, "zh")["md"]
    headers = [
        line
        for i, line in enumerate(md.splitlines())
        if line.startswith("|") and i + 1 < len(md.splitlines()) and md.splitlines()[i + 1].startswith("|---")
    ]
    assert headers
    for header in headers:
        for cell in header.strip("|").split("|"):
            cell = cell.strip()
            assert re.search(r"[\u4e00-\u9fff]", cell) or cell in ("GPU",), (cell, header)


@pytest.mark.slow
def test_the_article_is_set_side_by_side(tmp_path):
    md = render_all(runs(), tmp_path, SCENARIOS, "zh")["md"]
    article = sections(md)[load_strings("zh").headings.article]
    assert "| 文章 hf | 文章 fastllm |" in article  # the headers name config/article.yaml's pair
    assert "28,375.3" in article and "16,176.2" in article and "1.75×" in article
    assert "32,345.9" in article and "10,974.1" in article and "2.95×" in article
    row = next(line for line in article.splitlines() if line.startswith("| For循环"))
    assert re.search(r"\| 3\.\d\d× \(\d\.\d\d–\d\.\d\d\) \|$", row), row  # this run's speedup with its CI


@pytest.mark.slow
def test_the_comparison_follows_the_numbers_and_says_when_it_is_significant(tmp_path):
    md = render_all(runs({"hf": 1.0, "fastllm": 3.0}), tmp_path / "a", SCENARIOS, "en")["md"]
    assert re.search(r"\*\*loop\*\*: fastllm is 3\.\d\d× \([\d.]+–[\d.]+\) faster than hf", md)
    assert "a significant difference" in md and "2 processes" in md
    md = render_all(runs({"hf": 3.0, "fastllm": 1.0}), tmp_path / "b", SCENARIOS, "en")["md"]
    assert re.search(r"\*\*loop\*\*: fastllm is 3\.\d\d× \([\d.]+–[\d.]+\) slower than hf", md)


@pytest.mark.slow
def test_overlapping_results_are_not_called_a_win(tmp_path):
    noisy = [
        record(b, "loop", SCENARIOS["loop"], replica=r, speed=s, seed=r)
        for r, (a, c) in enumerate([(1.0, 1.1), (1.1, 0.95), (0.9, 1.0)])
        for b, s in (("hf", a), ("fastllm", c))
    ]
    md = render_all(noisy, tmp_path, {"loop": SCENARIOS["loop"]}, "en")["md"]
    assert "not significant" in md


@pytest.mark.slow
def test_a_failed_run_still_renders_with_its_reason(tmp_path):
    result = render_all(runs(failed={("fastllm", "threads")}), tmp_path, SCENARIOS, "en")
    assert "Run tiny/fastllm/threads/0 failed: OutOfMemoryError" in result["md"]
    assert "CUDA out of memory" in result["html"].read_text()


@pytest.mark.slow
def test_the_header_names_the_version_and_the_title_the_measured_device(tmp_path):
    from llmbench import __version__

    md = render_all(runs(gpu=True), tmp_path, SCENARIOS, "en")["md"]
    assert md.startswith("# tiny inference benchmark: hf, fastllm on NVIDIA Test GPU\n")
    assert f"llmbench {__version__}" in md.splitlines()[2]


@pytest.mark.slow
def test_tokens_faster_than_the_token_clock_are_a_limitation(tmp_path):
    fast = runs({"hf": 1.0, "fastllm": 20.0})  # fastllm: 0.5 ms a token, its clock 0.58 ms
    md = render_all(fast, tmp_path, SCENARIOS, "en")["md"]
    limits = sections(md)["Limitations"]
    assert "less than twice their token clock's resolution: tiny/fastllm/loop" in limits
    assert "tiny/hf/" not in limits.split("token clock")[1].split("\n")[0]


@pytest.mark.slow
def test_cpu_bound_runs_are_diagnosed(tmp_path):
    records = runs(gpu=True)
    for r in records:
        if r.key.backend == "hf":
            for segment in r.resources.segments:
                segment.update(gpu_busy_fraction=0.23, cpu_s=1.2 * segment["window_s"])
        else:  # about one core too: CUDA's spin-wait, the GPU busy; not CPU-bound
            for segment in r.resources.segments:
                segment.update(gpu_busy_fraction=0.92, cpu_s=1.0 * segment["window_s"])
    md = render_all(records, tmp_path, SCENARIOS, "en")["md"]
    assert "the host CPU: the GPU sat idle 77 % of the window, waiting on this process (1.20 cores)" in md
    assert "the GPU: busy 92 % of the window (1.00 cores" in md
    limit = next(line for line in md.splitlines() if "These runs are limited by the host CPU" in line)
    assert "hf/" in limit and "fastllm/" not in limit


@pytest.mark.slow
@pytest.mark.parametrize("language", ["zh", "en"])
def test_without_a_gpu_the_memory_point_names_host_memory_only(tmp_path, language):
    md = render_all(runs(gpu=False), tmp_path, SCENARIOS, language)["md"]
    t = load_strings(language)
    point = next(line for line in sections(md)[t.headings.points].splitlines() if "MiB" in line)
    assert point.startswith("- " + t.points.memory_host.split("{")[0]), point
    assert "–" not in point.split("。")[0].split(". ")[0] and "nan" not in point.lower(), point
    for backend in ("hf", "fastllm"):
        assert re.search(re.escape(backend) + r"[^,，、;；]*\d+ MiB", point), point


def _answer(tmp_path, speeds, wrong=(), resources=None, replicas=2):
    import pandas as pd

    from llmbench.report.conclusion import answer
    from llmbench.report.narrative import comparisons

    summary = render_all(runs(speeds, replicas=replicas), tmp_path, SCENARIOS, "en", plots=False)["summary"]
    verdicts = pd.DataFrame(
        [{"backend": b, "scenario": s, "disagrees": (b, s) in wrong} for b in speeds for s in SCENARIOS]
    )
    resources = (
        resources
        if resources is not None
        else pd.DataFrame(
            {
                "backend": list(speeds),
                "scenario": "loop",
                "concurrency": float("nan"),
                "gpu_process_peak_mib": [float("nan")] * len(speeds),
                "rss_peak_mib": [300.0] * len(speeds),
            }
        )
    )
    return answer(comparisons(summary, "hf"), summary, resources, load_strings("en"), verdicts)


def test_the_answer_marks_a_backend_that_computes_wrongly_and_names_each_best_scenario(tmp_path):
    loop, concurrency, _ = _answer(
        tmp_path, {"hf": 1.0, "fastllm": 3.0}, wrong={("fastllm", "loop"), ("fastllm", "sweep")}
    )
    assert "fastllm is 3." in loop and "(fastllm computes wrongly: its speed does not count)" in loop
    assert "computes wrongly" not in concurrency.split("Highest")[0]  # its threads outputs were right
    best = concurrency.split("Highest output throughput: ")[1]
    assert re.search(
        r"fastllm [\d,.]+ \([\d,.]+–[\d,.]+\) tok/s \(2 processes; passes: median [\d,.]+, [\d,.]+–[\d,.]+; sweep, concurrency \d\) \(fastllm computes wrongly",
        best,
    ), best
    assert re.search(r"hf [\d,.]+ \([\d,.]+–[\d,.]+\) tok/s \([^)]*; sweep, concurrency \d\)(;|\.$)", best), (
        best
    )


def test_the_answer_says_slower_and_not_significant_where_the_numbers_do(tmp_path):
    loop, *_ = _answer(tmp_path / "slow", {"hf": 3.0, "fastllm": 1.0})
    assert re.search(r"fastllm is \d\.\d\d× \([\d.]+–[\d.]+\) slower than hf", loop), loop
    assert "(not significant" not in loop
    noisy, *_ = _answer(tmp_path / "tie", {"hf": 1.0, "fastllm": 1.01}, replicas=2)
    assert re.search(r"\(not significant: (the ratio's 95 % CI includes 1|p ≥ 0\.05)", noisy), noisy


@pytest.mark.parametrize(
    "low, high, p, why",
    [
        (3.65, 21.48, 0.055, ["p_large"]),
        (0.8, 1.3, 0.01, ["ci_includes_one"]),
        (0.5, 2.0, 0.4, ["ci_includes_one", "p_large"]),
    ],
)
def test_a_comparison_called_not_significant_says_which_criterion_failed(low, high, p, why):
    """A newcomer's headline: "fastllm is 8.85× (3.65–21.48) faster than hf (not significant)": the CI
    excludes 1, Welch's p = 0.055 - the answer now says which."""
    from llmbench.report.narrative import Comparison, not_significant_why
    from llmbench.stats import UnitStats

    t = load_strings("en")
    side = UnitStats.of([1.0, 2.0, 3.0])
    c = Comparison(
        "tiny", "loop", "loop", None, "total_ms", "hf", "fastllm", side, side, 8.85, low, high, p, "replica"
    )
    assert not_significant_why(c, t) == t.sentences.list_sep.join(t.verdicts[k] for k in why)


def test_memory_in_the_answer_is_compared_within_one_scenario_which_it_names(tmp_path):
    """On the H200 the answer set hf's batch-32 peak (13,478 MiB) beside hf-compile's loop peak;
    in the same scenario hf-compile used more than hf."""
    import pandas as pd

    resources = pd.DataFrame(
        {
            "backend": ["hf", "hf", "fastllm", "fastllm", "fastllm"],
            "scenario": ["loop", "sweep", "loop", "sweep", "sweep"],
            "concurrency": [float("nan")] * 4 + [32.0],  # a sweep's level row holds no memory
            "gpu_process_peak_mib": [12_660.0, 13_478.0, 12_152.0, 12_460.0, float("nan")],
            "rss_peak_mib": [1.0] * 5,
        }
    )
    *_, memory = _answer(tmp_path, {"hf": 1.0, "fastllm": 3.0}, resources=resources)
    assert "all in loop" in memory and "hf 12,660 MiB" in memory and "fastllm 12,152 MiB" in memory, memory
    assert "13,478" not in memory and "12,460" not in memory
    only_hf_in_loop = resources.drop(index=2)  # the scenario most backends measured wins
    *_, memory = _answer(tmp_path / "b", {"hf": 1.0, "fastllm": 3.0}, resources=only_hf_in_loop)
    assert "all in sweep" in memory and "hf 13,478 MiB" in memory and "fastllm 12,460 MiB" in memory, memory


def test_a_comparison_says_which_significance_criterion_failed_and_never_p_equals_less_than(tmp_path):
    from llmbench.report.narrative import Comparison, comparison_sentence
    from llmbench.stats import UnitStats

    t = load_strings("en")
    stats = UnitStats(mean=10.0, std=1.0, n=3, ci95_low=9.0, ci95_high=11.0)
    make = lambda low, high, p: Comparison(  # noqa: E731
        "tiny",
        "loop",
        "loop",
        None,
        "total_ms",
        "hf",
        "fastllm",
        stats,
        stats,
        (low + high) / 2,
        low,
        high,
        p,
        "replica",
    )
    assert "p < 0.001, a significant difference" in comparison_sentence(make(2.0, 3.0, 1e-6), t)
    assert "p = <" not in comparison_sentence(make(2.0, 3.0, 1e-6), t)
    both = comparison_sentence(make(0.9, 1.2, 0.3), t)
    assert "not significant (the ratio's 95 % CI includes 1; p ≥ 0.05)" in both, both
    only_p = comparison_sentence(make(1.05, 1.2, 0.07), t)
    assert "not significant (p ≥ 0.05)" in only_p, only_p
    only_ci = comparison_sentence(make(0.99, 1.2, 0.04), t)
    assert "not significant (the ratio's 95 % CI includes 1)" in only_ci, only_ci


@pytest.mark.parametrize("hf_threads, gpu, noted", [(2, False, True), (1, False, False), (2, True, False)])
def test_different_cpu_thread_counts_between_backends_are_a_limitation(tmp_path, hf_threads, gpu, noted):
    records = runs(gpu=gpu)
    for r in records:
        r.backend_info = {
            **r.backend_info,
            **({"torch_threads": hf_threads} if r.key.backend == "hf" else {"cpu_threads": 1}),
        }
        r.device = "cuda" if gpu else "cpu"
    limits = sections(render_all(records, tmp_path, SCENARIOS, "en", plots=False)["md"])["Limitations"]
    assert ("different numbers of threads: hf 2, fastllm 1." in limits) is noted, limits


@pytest.mark.parametrize(
    "throughput, expected",
    [
        (
            {1: 50.0, 4: 48.0, 16: 30.0},
            "throughput is highest at the lowest concurrency, 1 (50.0 tok/s): more requests at once did not raise it (30.0 tok/s at 16",
        ),
        ({2: 50.0}, "only concurrency 2 was measured: 50.0 tok/s"),
        ({1: 50.0, 4: 150.0}, "from concurrency 1 to 4, throughput rose from 50.0 to 150.0 tok/s (3.00×)"),
    ],
)
def test_a_sweep_whose_peak_is_its_first_level_is_said_plainly(throughput, expected):
    import pandas as pd

    from llmbench.report.narrative import sweep_sentences

    rows = [
        {
            "model": "tiny",
            "scenario": "sweep",
            "backend": "hf",
            "scenario_type": "sweep",
            "status": "ok",
            "concurrency": level,
            "metric": metric,
            "mean": value if metric == "output_tokens_per_s" else 100.0 * level,
        }
        for level, value in throughput.items()
        for metric in ("output_tokens_per_s", "e2e_ms")
    ]
    (sentence,) = sweep_sentences(pd.DataFrame(rows), load_strings("en"), single_model=True)
    assert expected in sentence and "1.00×" not in sentence, sentence


def test_a_cpu_only_run_says_no_gpu_once(tmp_path):
    t = load_strings("en")
    limits = sections(render_all(runs(gpu=False), tmp_path / "cpu", SCENARIOS, "en", plots=False)["md"])[
        "Limitations"
    ]
    notes = [line for line in limits.splitlines() if line.startswith("- ")]
    assert len([n for n in notes if "GPU" in n]) == 1, notes
    assert any(
        n[2:].startswith(t.limits.cpu_only.split("(")[0]) and "NVML Shared Library Not Found" in n
        for n in notes
    )
    mixed = runs(gpu=True)
    for r in mixed:
        if r.key.backend == "fastllm":
            r.device = "cpu"
    limits = sections(render_all(mixed, tmp_path / "mixed", SCENARIOS, "en", plots=False)["md"])[
        "Limitations"
    ]
    assert "These runs ran on the CPU; their numbers say nothing about a GPU: tiny/fastllm/loop" in limits
    assert "Every run ran on the CPU" not in limits


def test_the_roofline_table_gives_a_small_models_weights_in_mib_not_zero(tmp_path):
    t = load_strings("en")
    md = render_all(runs(gpu=False), tmp_path, SCENARIOS, "en", plots=False)["md"]
    table = sections(md)[t.headings.roofline]
    rows = [line for line in table.splitlines() if line.startswith(("| hf", "| fastllm"))]
    assert len(rows) == 4 and all("| 2.39 |" in row for row in rows), rows  # 2,501,632 bytes per decode step
    for row in rows:  # the fraction's CI as precise as the fraction itself
        fraction, low, high = re.search(r"\| ([\d.]+) % \(([\d.]+) %–([\d.]+) %\) \|", row).groups()
        assert float(low) <= float(fraction) <= float(high) and float(low) < float(high), row
    assert "weights read per decode step (MiB)" in table


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("gpu", [False, True])
def test_the_roofline_section_names_the_memory_that_bounds_its_runs(tmp_path, language, gpu):
    """A CPU run's bound was introduced as the copy bandwidth "of cpu" while the section spoke of GPUs:
    the intro names the memory the table's `bound_memory` says (host memory for a CPU run), and a decode
    rate from a token clock too coarse for it is noted in its row."""
    t = load_strings(language)
    speeds = {"hf": 1.0, "fastllm": 40.0}  # fastllm's 0.58 ms clock cannot resolve its ~0.25 ms tokens
    bandwidth = {"device": "cuda", "available": True, "name": "NVIDIA Test GPU", "uuid": "GPU-test"}
    bandwidth = {**bandwidth, "bytes_per_s": 3e9, "context_bytes": 0} if gpu else None
    md = render_all(runs(speeds, gpu=gpu), tmp_path, SCENARIOS, language, plots=False, bandwidth=bandwidth)[
        "md"
    ]
    section = sections(md)[t.headings.roofline]
    memory = t.f("bound_memory.gpu", name="NVIDIA Test GPU") if gpu else t.bound_memory.host
    assert (
        memory in section.split("\n|")[0]
        and t.f("bound_memory.host" if gpu else "bound_memory.gpu", name="NVIDIA Test GPU") not in section
    )
    fastllm = [line for line in section.splitlines() if line.startswith("| fastllm")]
    hf = [line for line in section.splitlines() if line.startswith("| hf")]
    assert fastllm and all(t.roofline_clock_coarse in row for row in fastllm)
    assert hf and not any(t.roofline_clock_coarse in row for row in hf)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_energy_point_compares_backends_within_one_scenario_and_level_which_it_names(language):
    """hf's 0.49 J/token over a whole sweep was neither batch 1 nor batch 32 and was ranked against
    loop figures: the point now takes one scenario (and level), the one most backends measured."""
    import pandas as pd

    from llmbench.report.conclusion import energy_point

    t = load_strings(language)
    nan = float("nan")
    resources = pd.DataFrame(
        [
            ("hf", "loop", nan, 1, 5.9),
            ("hf", "sweep", nan, 2, nan),  # the sweep's run row: its levels are below
            ("hf", "sweep", 1.0, 2, 6.1),
            ("hf", "sweep", 32.0, 2, 0.2),
            ("fastllm", "loop", nan, 1, 2.9),
            ("fastllm", "threads", nan, 1, 1.2),
            ("hf-compile", "loop", nan, 1, 2.15),
            ("llamacpp", "loop", nan, 1, None),
        ],
        columns=["backend", "scenario", "concurrency", "levels", "energy_j_per_output_token"],
    ).assign(model="tiny")
    point = energy_point(resources, t)
    assert point == t.f(
        "points.energy",
        scenario="loop",
        items=t.sentences.list_sep.join(
            t.f("points.energy_item", backend=b, value=v)
            for b, v in (("fastllm", "2.900"), ("hf", "5.900"), ("hf-compile", "2.150"))
        ),
    ), point
    level_only = resources[resources.scenario == "sweep"]
    point = energy_point(level_only, t)
    assert f"sweep, {t.columns.concurrency} 1" in point and "6.100" in point and "0.200" not in point
    assert energy_point(resources.assign(energy_j_per_output_token=None), t) is None


@pytest.mark.slow
@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_conclusion_has_the_six_points_the_article_needs_scaling_inside_concurrency(tmp_path, language):
    """For-loop, concurrency (the pool and how the sweeps scale), memory, correctness, energy and
    HF at its best: six points, the last not crowded out by scaling standing alone."""
    t = load_strings(language)
    records = runs({"hf": 1.0, "hf-compile": 4.0, "fastllm": 3.0}, gpu=True, energy=True)
    md = render_all(records, tmp_path, SCENARIOS, language)["md"]
    points = [line for line in sections(md)[t.headings.points].splitlines() if line.startswith("- ")]
    assert len(points) == 6, points
    scaling = t.points.scaling.split("{")[0]
    assert scaling in points[1] and points[1].startswith("- " + t.points.threads.split("{")[0]), points[1]
    best_of = t.points.best_of.split("{best_value}")[0].format(base="hf", best="hf-compile")
    assert points[-1].startswith("- " + best_of), points[-1]


@pytest.mark.slow
def test_backend_facts_leave_out_what_a_backend_could_not_establish_and_join_lists(tmp_path):
    records = runs(gpu=False)
    for r in records:
        if r.key.backend == "fastllm":
            r.backend_info = {
                "gpu_layers_offloaded": None,
                "buffers": ["CPU model 12 MiB", "KV 2 MiB"],
                "threads": 1,
            }
    md = render_all(records, tmp_path, SCENARIOS, "en")["md"]
    line = next(line for line in md.splitlines() if line.startswith("- fastllm: "))
    assert line == "- fastllm: buffers `CPU model 12 MiB; KV 2 MiB`, threads `1`", line
    assert "None" not in md


def test_a_backends_long_facts_are_folded_behind_details(tmp_path):
    """llama.cpp's whole system_info and buffer lines once made a wall in the method section: the
    line keeps the short facts and names the long ones, which stay verbatim behind <details>."""
    system_info = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | <LLAMAFILE> = 1 | "
    buffers = [f"load_tensors: CPU_Mapped model buffer size = {n}.00 MiB" for n in (12, 3)]
    records = runs(gpu=False)
    for r in records:
        if r.key.backend == "fastllm":
            r.backend_info = {"system_info": system_info, "buffers": buffers, "threads": 2}
    out = render_all(records, tmp_path, SCENARIOS, "en")
    line = next(line for line in out["md"].splitlines() if line.startswith("- fastllm: "))
    assert line == "- fastllm: threads `2`; system_info, buffers in full below", line
    html = out["html"].read_text()
    folded = html[html.index("<details><summary>fastllm: system_info, buffers</summary>") :]
    folded = folded[: folded.index("</details>")]
    assert "&lt;LLAMAFILE&gt; = 1" in folded and all(b in folded for b in buffers)
    assert system_info.strip() not in html.replace(folded, "")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_answer_says_first_which_runs_failed(tmp_path, language):
    """A loop that failed for every backend: the answer must not read as if it had measured."""
    records = [
        record(backend, name, s, status="failed" if name == "loop" else "ok", replica=r)
        for r in range(2)
        for name, s in SCENARIOS.items()
        for backend in ("hf", "fastllm")
    ]
    t = load_strings(language)
    md = render_all(records, tmp_path, SCENARIOS, language, plots=False)["md"]
    first = sections(md)[t.headings.answer].strip().splitlines()[0]
    total = len(SCENARIOS) * 2
    item = t.f("answer.failed_item", scenario="loop", backends="hf, fastllm", status=t.status["failed"])
    expected = t.f("answer.failed", count=2, total=total, items=item, failed=4, processes=len(records))
    assert first == "- " + expected, first


@pytest.mark.parametrize(
    "failing",
    [
        {("hf", "loop", 0)},
        {("hf", "loop", 0), ("hf", "loop", 1), ("fastllm", "threads", 1)},
        {(b, n, r) for b in ("hf", "fastllm") for n in SCENARIOS for r in range(2)} - {("hf", "loop", 0)},
    ],
)
def test_the_answer_counts_configurations_and_runs_as_the_console_does(tmp_path, failing):
    """The report's count of run configurations is named as such, and its count of failed runs
    (processes, every replica) is the console's closing line's, for the same records."""
    from llmbench.analyze.outcome import Outcome, closing_lines

    records = [
        record(backend, name, s, status="failed" if (backend, name, r) in failing else "ok", replica=r)
        for r in range(2)
        for name, s in SCENARIOS.items()
        for backend in ("hf", "fastllm")
    ]
    failed = [(str(r.run), "x") for r in records if r.status == "failed"]
    console = closing_lines(Outcome(len(records), failed), "report.html")[0]
    assert console.startswith(f"{len(failing)} of {len(records)} benchmark runs failed")
    md = render_all(records, tmp_path, SCENARIOS, "en", plots=False)["md"]
    first = sections(md)["The answer"].strip().splitlines()[0]
    configurations = {(b, n) for b, n, _ in failing}
    assert (
        f"Run configurations (model × backend × scenario) that did not measure cleanly**: {len(configurations)} of {len(SCENARIOS) * 2} ("
        in first
    ), first
    assert f"; {len(failing)} of {len(records)} benchmark runs (one process each" in first, first


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_scenarios_table_names_the_form_the_queries_took(language):
    """A model without a chat template got the raw text: the report must not say chat template."""
    from llmbench.report.tables import scenarios_table

    t = load_strings(language)
    for forms, expected in (
        (["raw text"], t.prompt_forms["raw text"]),
        (["chat template"], t.prompt_forms["chat template"]),
        (["chat template", "raw text"], f"{t.prompt_forms['chat template']} / {t.prompt_forms['raw text']}"),
    ):
        rows = {row[0].strip("`"): row for row in scenarios_table(SCENARIOS, t, forms).rows}
        query_rows = [rows[name] for name, s in SCENARIOS.items() if s.input_tokens is None]
        assert query_rows and all(row[3] == expected for row in query_rows), query_rows


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_backend_says_what_concurrent_and_one_batch_meant_in_the_reports_language(language):
    """Issue 24: 'concurrent' is a batch for llama.cpp, interleaved generate() calls for hf, turns behind
    a lock for hf-compile: the concurrency section words each backend's, never in another language."""
    from llmbench.backends import available, get_backend
    from llmbench.report.render import concurrency_meanings

    t = load_strings(language)
    for name in available():
        means = get_backend(name).concurrency_means
        assert set(means) == {"concurrent", "batch"}
        assert all(t.concurrency_means[code] for code in means.values())
    sweep = record("llamacpp", "sweep", scenario("sweep", concurrency=[1, 4]))
    sweep.backend_info = {"concurrency_means": get_backend("llamacpp").concurrency_means}
    loop = record("hf", "loop", scenario("loop"))
    loop.backend_info = {"concurrency_means": get_backend("hf").concurrency_means}
    (line,) = concurrency_meanings([sweep, loop], t)  # a loop is never concurrent
    assert "llamacpp" in line and t.concurrency_means["one_decode"] in line


def test_stop_reasons_and_backend_facts_speak_for_every_replica_not_the_last():
    """FastLLM/loop on the H200 read "CI target met" while 2 of its 3 processes hit the time cap;
    llama.cpp's facts were a loop record's (1 slot, no rebuilds) while its threads runs rebuilt."""
    from llmbench.report.render import facts_by_run, stop_reasons

    t = load_strings("en")
    records = runs({"hf": 1.0, "llamacpp": 3.0}, replicas=3)
    for r in records:
        for level in r.measurement.levels:
            level.stop_reason = "time_cap" if r.run.replica < 2 else "target"
        r.backend_info = {"slots": 1 if r.key.scenario == "loop" else 3, "threads": 4}
        if r.key.scenario != "loop":
            r.backend_info["context_rebuilds"] = r.run.replica
    stops = stop_reasons(records, t)
    assert stops[("tiny", "hf", "loop", None)] == "time cap 2/3, CI target met 1/3"
    facts = facts_by_run(records, t, single_model=True)
    assert facts["llamacpp"] == {"threads": 4}  # what every record agrees on, once
    assert facts["llamacpp / loop"] == {"slots": 1}
    others = [label for label in facts if label.startswith("llamacpp / ") and label != "llamacpp / loop"]
    for label in others:
        assert facts[label]["slots"] == 3
        assert facts[label]["context_rebuilds"] == "replica 0: 0; replica 1: 1; replica 2: 2"


def test_the_baseline_at_its_best_is_set_beside_the_other_in_a_scenario_both_ran_with_a_ci(tmp_path):
    """The point took the first decode row of any scenario and printed 1.31× without a CI."""
    from conftest import REPO
    from llmbench.report.article import read_article
    from llmbench.report.conclusion import best_of_point
    from llmbench.report.narrative import comparisons

    t = load_strings("en")
    article = read_article(REPO / "config/article.yaml")
    base, other = article.pair
    best = "hf-compile"
    summary = render_all(
        runs({base: 1.0, best: 4.0, other: 2.0}, replicas=3),
        tmp_path,
        SCENARIOS,
        "en",
        plots=False,
    )["summary"]
    compared = comparisons(summary, base)
    point = best_of_point(compared, summary, article, t)
    scenario = next(iter(SCENARIOS))
    assert f"in the same scenario ({scenario}" in point, point
    assert re.search(r"ratio \d\.\d\d× \(\d\.\d\d–\d\.\d\d\), 95 % CI", point), point
    without = summary[~((summary.backend == other) & (summary.scenario == scenario))]
    assert f"({scenario}" not in (best_of_point(compared, without, article, t) or "")  # another, or none
    assert best_of_point(compared, summary[summary.backend != other], article, t) is None


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_run_stamped_by_device_clock_is_marked_in_every_table_and_the_note_says_why(tmp_path, language):
    """hf-compile's TTFT (37 ms on the H200) and ITL were CUDA-event times of tokens the caller
    receives only at the end, set beside three streaming backends without a word."""
    t = load_strings(language)
    records = runs({"hf": 1.0, "hf-compile": 4.0}, gpu=True)
    for r in records:
        if r.key.backend == "hf-compile":
            r.backend_info = {"token_clock_device": True}
    md = render_all(records, tmp_path, SCENARIOS, language)["md"]
    assert t.clock_note in md
    rows = [line for line in md.splitlines() if line.startswith("| hf-compile")]
    results = [line for line in rows if not line.startswith("| hf-compile / ")]  # the per-scenario tables
    assert results and all(line.startswith("| hf-compile †") for line in results), results
    detail = [line for line in rows if t.metric_headers["ttft_ms"] in line]  # spread and percentiles
    assert detail and all(" †" in line.split("|")[1] for line in detail), detail
    assert not any("| hf †" in line for line in md.splitlines())
    host_only = render_all(runs({"hf": 1.0, "fastllm": 2.0}, gpu=True), tmp_path / "h", SCENARIOS, language)
    assert t.clock_note not in host_only["md"] and "†" not in host_only["md"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_two_processes_far_apart_print_their_values_instead_of_an_interval(tmp_path, language):
    """Issue 29: "fastllm 2,427.9 (0.6–9,111,279.2) token/s". Two processes 4x apart: the answer, the
    results tables and the roofline table list both values, each pair around its mean, and no interval
    of theirs is printed; summary.csv keeps its intervals."""
    t = load_strings(language)
    records = [
        record(b, name, s, replica=r, speed=v * (1 + 3 * r), seed=r)
        for r in range(2)
        for name, s in SCENARIOS.items()
        for b, v in (("hf", 1.0), ("fastllm", 3.0))
    ]
    out = render_all(records, tmp_path, SCENARIOS, language, plots=False)
    md, summary = out["md"], out["summary"]
    assert summary.loc[summary.n == 2, "ci95_high"].notna().all()
    words = (
        re.escape(t.unresolved)
        .replace(r"\{n\}", "2")
        .replace(r"\{values\}", r"([\d,.]+)(?: %)?, ([\d,.]+)(?: %)?")
    )
    answer = sections(md)[t.headings.answer].split("\n- ")[2]  # the concurrency line names the best
    assert len(re.findall(words, answer)) == 2, answer
    results = re.findall(r"^\| (?:hf|fastllm) \|.*$", md, flags=re.M)  # a row of a results table
    roofline = re.findall(r"^\| (?:hf|fastllm) / \w+(?: \(.*?\))? \| \d+\.\d+ \|.*$", md, flags=re.M)
    assert len(results) == 8 and len(roofline) == 4, (results, roofline)
    assert all(len(re.findall(words, row)) == 5 for row in results), results
    assert all(len(re.findall(words, row)) == 2 for row in roofline), roofline  # decode and its fraction
    assert not re.search(r"[\d%] \([\d,.]+(?: %)?–[\d,.]+(?: %)?\)", md), "an interval of two is printed"
    for found in re.finditer(rf"([\d,.]+)(?: %)? {words}", md):
        mean, a, b = (float(found[i].replace(",", "")) for i in (1, 2, 3))
        assert a < mean < b, found[0]
    assert not re.search(r"\d\.\de\d", md), "an interval's far end is printed"
    # their ratios too: "3.00× (0.08–114.49)" said nothing; "3.00× not resolved (n=2)"
    assert not re.search(r"× \([\d,.]+–[\d,.]+\)", md), "a ratio's interval of two is printed"
    assert t.unresolved_ratio.format(n=2) in sections(md)[t.headings.answer]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(
    "values, printed",
    [([1.0], False), ([1.0, 9.0], False), ([1.0, 1.1], True), ([1.0, 1.1, 1.2], True)],
)
def test_a_comparison_sentence_says_95_ci_only_beside_an_interval_it_prints(values, printed, language):
    """A breaker's single run: "llamacpp is 23.81× slower than hf (95 % CI; …; 1 passes of 1 process)"
    named an interval it did not have; two units too far apart print none either."""
    from llmbench.report.narrative import Comparison, comparison_sentence
    from llmbench.stats import UnitStats, ratio_ci

    t = load_strings(language)
    base, other = UnitStats.of(values, positive=True), UnitStats.of([v * 3 for v in values], positive=True)
    speedup, low, high = ratio_ci(other, base)
    c = Comparison(
        "tiny",
        "loop",
        "loop",
        None,
        "output_tokens_per_s",
        "hf",
        "fastllm",
        base,
        other,
        speedup,
        low,
        high,
        0.01,
        "replica",
    )
    sentence = comparison_sentence(c, t)
    assert (t.sentences.ci in sentence) == printed, sentence


def test_passes_that_disagree_print_their_range_as_passes_not_as_a_second_interval():
    """A breaker read "38.1 not resolved (n=2: 33.6, 42.6) ⚠ (24.6–52.8)" as two intervals."""
    import pandas as pd

    from llmbench.report.tables import _stat

    t = load_strings("en")
    row = {"metric": "output_tokens_per_s", "mean": 38.1, "ci95_low": 30.0, "ci95_high": 47.0, "n": 3}
    group = pd.DataFrame([{**row, "std": 4.0, "min": 24.6, "max": 52.8}])
    shown = _stat(group, "output_tokens_per_s", t)
    assert shown.endswith("⚠ passes 24.6–52.8"), shown
