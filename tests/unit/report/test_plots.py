"""The figures: drawn in the report's language, with or without GPU figures."""

import warnings

import matplotlib.pyplot as plt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from llmbench.analyze.summary import summary_table
from llmbench.analyze.tables import resources_table, roofline_table
from llmbench.report.plots.model import plot_latency, plot_memory, plot_resources
from llmbench.report.plots.scenario import plot_scenario
from llmbench.report.strings import load_strings
from llmbench.scenario_types import TYPES
from records import record, scenario

MODELS = {"tiny": {"parameter_bytes": 3_549_696, "decode_bytes": 2_501_632}}
BANDWIDTH = {
    "device": "cuda",
    "available": True,
    "name": "NVIDIA Test GPU",
    "uuid": "GPU-test",
    "bytes_per_s": 3e9,
    "context_bytes": 500 * 2**20,
}


def figures(tmp_path, gpu, language):
    t = load_strings(language)
    sweep = scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 2, 8])
    loop = scenario("loop", output_tokens=4)
    records = [
        record(b, name, s, gpu=gpu, speed=v)
        for name, s in (("loop", loop), ("sweep", sweep))
        for b, v in (("hf", 1.0), ("fastllm", 2.0))
    ]
    summary = summary_table(records)
    bandwidth = BANDWIDTH if gpu else {**BANDWIDTH, "device": "cpu", "uuid": None}
    roofline, resources = (
        roofline_table(summary, records, MODELS, bandwidth),
        resources_table(summary, MODELS, bandwidth, records),
    )
    paths = {name: tmp_path / f"{name}.png" for name in ("loop", "sweep", "latency", "memory", "resources")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_scenario(summary, "loop", str(paths["loop"]), t)
        plot_scenario(summary, "sweep", str(paths["sweep"]), t)
        plot_latency(records, summary, str(paths["latency"]), t)
        plot_memory(records, str(paths["memory"]), t)
        plot_resources(resources, roofline, "tiny", str(paths["resources"]), t)
    return paths, [str(w.message) for w in caught]


@pytest.mark.slow
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_label_is_drawn_in_the_reports_language(tmp_path, language):
    """A Chinese label without a CJK font is drawn as boxes: matplotlib warns of each missing glyph."""
    paths, caught = figures(tmp_path, gpu=True, language=language)
    assert not [w for w in caught if "missing from font" in w], caught[:3]
    for path in paths.values():
        with Image.open(path) as image:
            assert image.size[0] > 800 and image.getextrema()[0][0] < 100  # drawn, not blank


@pytest.mark.slow
@pytest.mark.parametrize("gpu", [False, True])
def test_the_resources_figure_shows_what_was_measured(tmp_path, gpu, monkeypatch):
    """Memory bars per measure, energy and roofline bars only where measured, "not measured" otherwise."""
    import llmbench.report.plots.model as model

    drawn = {}
    monkeypatch.setattr(model, "save", lambda fig, path: drawn.setdefault(path, fig))
    figures(tmp_path, gpu=gpu, language="en")
    memory, energy, roofline = drawn[str(tmp_path / "resources.png")].axes[:3]
    bars = [len([p for p in ax.patches if p.get_width() > 0]) for ax in (memory, energy, roofline)]
    measures = [t.get_text() for t in memory.get_legend().get_texts()]
    if gpu:
        assert "NVML process peak" in measures and "torch max allocated" in measures
        assert bars[1] == 8  # energy: 2 backends x (loop, each of the sweep's 3 levels)
        assert bars[2] == 4  # roofline: 2 backends x (loop, sweep level 1)
    else:
        assert measures == ["weights (on the device, as reported)", "process RSS peak (host)"]
        assert bars[1] == 0 and "not measured" in energy.texts[0].get_text()
        assert bars[2] == 4  # the CPU's own bandwidth bounds CPU runs


@pytest.mark.slow
@pytest.mark.parametrize("speeds", [(1.0, 1.3), (1.0, 40.0)])
def test_latency_ticks_are_plain_numbers_that_do_not_overlap_and_the_legend_hides_no_box(
    tmp_path, speeds, monkeypatch
):
    """Within a decade and across several: at every minor tick a 2×10^2 label once ran into the next."""
    import llmbench.report.plots.model as model

    drawn = {}
    monkeypatch.setattr(model, "save", lambda fig, path: drawn.setdefault(path, fig))
    loop = scenario("loop", output_tokens=4, repetitions=3)
    records = [
        record(b, "loop", loop, speed=v, seed=r, replica=r)
        for r in range(2)
        for b, v in zip(("hf", "fastllm"), speeds, strict=True)
    ]
    plot_latency(records, summary_table(records), "latency.png", load_strings("zh"))
    fig = drawn["latency.png"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = [
            tick.label1
            for tick in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks()
            if tick.label1.get_visible()
            and tick.label1.get_text()
            and ax.get_xlim()[0] <= tick.get_loc() <= ax.get_xlim()[1]
        ]
        assert labels, ax.get_title()
        assert all("$" not in label.get_text() for label in labels), [label.get_text() for label in labels]
        boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda b: b.x0)
        assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False)), ax.get_title()
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    legend = fig.legends[0].get_window_extent(renderer)
    assert not any(legend.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)


@pytest.mark.slow
def test_memory_over_time_has_one_colour_per_backend_and_a_legend_beside_the_axes(tmp_path, monkeypatch):
    """24 runs once gave 24 legend rows over the lines; the legend names backends and scenarios."""
    import llmbench.report.plots.model as model

    drawn = {}
    monkeypatch.setattr(model, "save", lambda fig, path: drawn.setdefault(path, fig))
    scenarios = {"loop": scenario("loop", output_tokens=4), "threads": scenario("threads", output_tokens=4)}
    records = [
        record(b, name, s, gpu=True, replica=r, seed=r)
        for r in range(3)
        for name, s in scenarios.items()
        for b in ("hf", "fastllm", "llamacpp")
    ]
    plot_memory(records, "memory.png", load_strings("en"))
    fig = drawn["memory.png"]
    (ax,) = fig.axes
    curves = [line for line in ax.lines if len(line.get_xdata()) > 2]
    assert len(curves) == len(records)
    assert (
        len(
            {
                tuple(line.get_color()) if not isinstance(line.get_color(), str) else line.get_color()
                for line in curves
            }
        )
        == 3
    )
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "hf",
        "fastllm",
        "llamacpp",
        "loop",
        "threads",
    ]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert not ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def _drawn(monkeypatch) -> dict:
    import llmbench.report.plots.model as model
    import llmbench.report.plots.scenario as scenario_plots

    plt.close("all")
    drawn: dict = {}
    monkeypatch.setattr(model, "save", lambda fig, path: drawn.setdefault(path, fig))
    monkeypatch.setattr(scenario_plots, "save", lambda fig, path: drawn.setdefault(path, fig))
    return drawn


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fast=st.floats(0.2, 200.0),
    bytes_per_s=st.floats(1e6, 1e10),
)
def test_a_roofline_bar_the_report_calls_unreliable_is_marked_and_squeezes_no_other(
    monkeypatch, fast, bytes_per_s
):
    """FastLLM's CPU bar at 3,062 % of the bound squeezed every other to a sliver, and its decode rate came
    from a token clock too coarse for it: bars the report calls unreliable (a coarse clock; >= 95 %, where
    the bound is doubtful) are hatched by reason with a legend entry saying why, and left out of the axis
    length (one past its end is cut there and labelled with its value); every other bar is drawn at its own
    value on an axis that ends 25 % past the largest of them or of 100 %. The title names host memory."""
    from llmbench.analyze.tables import coarse_clock_runs

    drawn = _drawn(monkeypatch)
    loop = scenario("loop", output_tokens=4)
    records = [record(b, "loop", loop, speed=v) for b, v in (("hf", 1.0), ("fastllm", fast))]
    summary = summary_table(records)
    bandwidth = {**BANDWIDTH, "device": "cpu", "uuid": None, "bytes_per_s": bytes_per_s}
    roofline = roofline_table(summary, records, MODELS, bandwidth)
    t = load_strings("en")
    plot_resources(resources_table(summary, MODELS, bandwidth, records), roofline, "tiny", "r.png", t)
    ax = drawn["r.png"].axes[2]
    bars = [p for p in ax.patches if p.get_width() > 0]
    coarse = {b for _, b, _ in coarse_clock_runs(summary)}
    percent = list(100 * roofline["fraction"])
    why = [
        "coarse" if b in coarse else "doubtful" if p > 95 else None
        for b, p in zip(roofline["backend"], percent, strict=True)
    ]
    end = ax.get_xlim()[1]
    assert end == pytest.approx(1.25 * max([100, *(p for p, w in zip(percent, why, strict=True) if not w)]))
    labels = " ".join(text.get_text() for text in ax.texts)
    for bar, p, w in zip(bars, percent, why, strict=True):
        assert bar.get_width() <= end + 1e-9
        assert bar.get_hatch() == {"coarse": "xx", "doubtful": "//", None: None}[w]
        if w is None:
            assert bar.get_width() == pytest.approx(p)
        if w == "doubtful" or (w and p > end):
            assert f"{p:,.0f} %: " in labels
    legend = [text.get_text() for text in ax.get_legend().get_texts()] if ax.get_legend() else []
    expected = {"coarse": t.plot.legend_clock_coarse, "doubtful": t.plot.legend_doubtful_bound}
    assert sorted(legend) == sorted(expected[w] for w in set(why) if w)
    assert ax.get_title() == t.plot.roofline_bound.host


def test_inter_token_gaps_of_a_clock_too_coarse_are_left_out_and_named(monkeypatch):
    """FastLLM's ITL sat at ~1e-3 ms in latency.png from its token clock while the limits called it
    an artefact: the runs the limits name are left out of the TTFT and ITL panels, which say so."""
    from llmbench.analyze.tables import coarse_clock_runs

    drawn = _drawn(monkeypatch)
    loop = scenario("loop", output_tokens=4)
    # fastllm's token clock is 0.58 ms (records.py); at speed 40 its gaps are ~0.25 ms
    records = [record(b, "loop", loop, speed=v) for b, v in (("hf", 1.0), ("fastllm", 40.0))]
    summary = summary_table(records)
    assert set(coarse_clock_runs(summary)) == {("tiny", "fastllm", "loop")}
    plot_latency(records, summary, "latency.png", load_strings("en"))
    ttft, itl, e2e = drawn["latency.png"].axes[:3]
    for ax in (ttft, itl):
        assert "token clock too coarse (see limits): fastllm/loop" in " ".join(ax.get_xlabel().split())
    assert ttft.get_xlim()[0] > 5 and itl.get_xlim()[0] > 1  # hf's 20 ms and 10 ms only
    assert (
        e2e.get_xlim()[0] < 2
    )  # fastllm's ~1.25 ms end-to-end times are kept: the clock does not touch them
    assert "fastllm" not in e2e.get_xlabel()


def test_a_backend_left_out_of_ttft_and_itl_hands_its_colour_to_no_other(monkeypatch):
    """With FastLLM's clock too coarse, llama.cpp's TTFT and ITL boxes took FastLLM's colour
    (seaborn's second), and the one legend, from the end-to-end panel, called them fastllm."""
    from matplotlib.colors import to_hex

    drawn = _drawn(monkeypatch)
    loop = scenario("loop", output_tokens=4)
    speeds = (("hf", 1.0), ("fastllm", 40.0), ("llamacpp", 2.0))
    records = [record(b, "loop", loop, speed=v) for b, v in speeds]
    plot_latency(records, summary_table(records), "latency.png", load_strings("en"))
    fig = drawn["latency.png"]
    legend = fig.legends[0]
    colour = {
        text.get_text(): to_hex(handle.get_facecolor())
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }
    assert set(colour) == {"hf", "fastllm", "llamacpp"}
    ttft, itl, e2e = fig.axes[:3]
    for ax in (ttft, itl):
        boxes = {to_hex(patch.get_facecolor()) for patch in ax.patches}
        assert boxes == {colour["hf"], colour["llamacpp"]}, ax.get_title()
    assert {to_hex(patch.get_facecolor()) for patch in e2e.patches} == set(colour.values())


@given(st.lists(st.text(alphabet="ab/,（未画出）", min_size=1, max_size=30), min_size=1, max_size=12))
def test_a_wrapped_label_keeps_its_words_and_no_line_is_wider_than_asked(words):
    """The left-out note under latency.png's TTFT and ITL panels ran under the next panel."""
    from llmbench.report.plots.model import _columns, wrap_label

    text = " ".join(words)
    lines = wrap_label(text, 20).split("\n")
    assert " ".join(lines) == text
    assert all(_columns(line) <= 20 or " " not in line for line in lines)


def test_a_rate_interval_is_cut_at_zero_and_the_figure_says_so(monkeypatch):
    """A CI lower bound of -957,740 tok/s was drawn below 0."""
    drawn = _drawn(monkeypatch)
    loop = scenario("loop", output_tokens=4)
    records = [record(b, "loop", loop, speed=v) for b, v in (("hf", 1.0), ("fastllm", 2.0))]
    summary = summary_table(records)
    rate = (summary.metric == "output_tokens_per_s") & (summary.backend == "fastllm")
    summary.loc[rate, "ci95_low"] = -3 * summary.loc[rate, "mean"]
    plot_scenario(summary, "loop", "loop.png", load_strings("en"))
    fig = drawn["loop.png"]
    for ax in fig.axes:
        ends = [x for c in ax.collections for seg in c.get_segments() for x, _ in seg]
        assert ends and min(ends) >= 0
    assert any("the 95 % CI of fastllm is cut at 0" in text.get_text() for text in fig.texts)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(1.0, 1e12))
def test_an_interval_far_past_its_bar_squeezes_no_other_bar(monkeypatch, past):
    """Two processes of FastLLM 20x apart gave its pass time a log-scale CI up to 59,044 ms beside bars
    of 40-900 ms: a panel ends at most AXIS_PAST_MEAN x its largest mean, a whisker past it is cut at the
    end and labelled with where it ends, and each bar keeps its own length."""
    from llmbench.report.plots.scenario import AXIS_PAST_MEAN

    drawn = _drawn(monkeypatch)
    loop = scenario("loop", output_tokens=4)
    records = [record(b, "loop", loop, speed=v) for b, v in (("hf", 1.0), ("fastllm", 2.0))]
    summary = summary_table(records)
    fastllm = summary.backend == "fastllm"
    summary.loc[fastllm, "ci95_high"] = summary.loc[fastllm, "mean"] * past
    plot_scenario(summary, "loop", "loop.png", load_strings("en"))
    for ax, metric in zip(drawn["loop.png"].axes, ("total_ms", "output_tokens_per_s"), strict=True):
        rows = summary[summary.metric == metric].set_index("backend")
        end = ax.get_xlim()[1]
        assert end <= AXIS_PAST_MEAN * rows["mean"].max() * (1 + 1e-9)
        ends = [x for c in ax.collections for seg in c.get_segments() for x, _ in seg]
        assert ends and max(ends) <= end * (1 + 1e-9)
        bars = sorted(p.get_width() for p in ax.patches if p.get_width() > 0)
        assert bars == pytest.approx(sorted(rows["mean"]))
        cut = rows.loc["fastllm", "ci95_high"] > end
        assert any(t.get_text().startswith("→ ") for t in ax.texts) == cut


@pytest.mark.parametrize("gpu", [False, True])
def test_every_memory_bar_can_be_seen_and_the_legend_hides_none(tmp_path, gpu, monkeypatch):
    """3 MiB of weights beside 300 MiB of RSS was a bar one pixel wide, and the legend sat under
    the panel: every bar is at least 5 px wide and the legend is beside the axes, over none."""
    drawn = _drawn(monkeypatch)
    figures(tmp_path, gpu=gpu, language="en")
    fig = drawn[str(tmp_path / "resources.png")]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    memory = fig.axes[0]
    bars = [p for p in memory.patches if p.get_height() > 0 and p.get_width() > 0]
    assert bars and all(p.get_window_extent(renderer).width >= 5 for p in bars)
    legend = memory.get_legend().get_window_extent(renderer)
    assert not any(legend.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("disagree", [False, True])
def test_a_sweeps_red_rings_and_bars_are_in_a_legend_when_drawn(monkeypatch, language, disagree):
    """sweep.png ringed a level whose passes disagree and drew their range as a red bar, and no
    legend said what ring and bar meant."""
    from llmbench.report.plots.scenario import spread_handles

    drawn = _drawn(monkeypatch)
    t = load_strings(language)
    sweep = scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 4])
    summary = summary_table([record(b, "sweep", sweep, speed=v) for b, v in (("hf", 1.0), ("fastllm", 2.0))])
    if disagree:
        level = (
            (summary.metric == "output_tokens_per_s") & (summary.backend == "hf") & (summary.concurrency == 4)
        )
        summary.loc[level, "max"] = 3 * summary.loc[level, "min"]
    plot_scenario(summary, "sweep", "sweep.png", t)
    _, right = drawn["sweep.png"].axes
    red = [line for line in right.lines if line.get_markeredgecolor() == "firebrick"]
    assert len(red) == disagree  # the ring is there exactly when the passes disagree
    texts = [text.get_text() for text in right.get_legend().get_texts()] if right.get_legend() else []
    assert texts == ([h.get_label() for h in spread_handles(t)] if disagree else [])
    assert all("{" not in text for text in texts) and (not disagree or "1.5" in texts[0])
    if disagree:  # beside the marks, not over them
        fig = drawn["sweep.png"]
        fig.tight_layout()  # as save() lays it out
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legend = right.get_legend().get_window_extent(renderer)
        assert not legend.overlaps(right.get_window_extent(renderer))
        assert not legend.overlaps(right.xaxis.label.get_window_extent(renderer))


def test_every_scenario_type_has_its_line_dashes():
    from llmbench.report.plots.model import TYPE_DASHES

    assert set(TYPE_DASHES) == set(TYPES)


@given(st.lists(st.sampled_from([*TYPES, None]), max_size=12))
def test_no_two_scenarios_share_a_line_style_in_the_memory_figure(kinds):
    """memory.png gave loop and sweep-batch one line style (four styles by turns over five scenarios)."""
    from llmbench.report.plots.model import scenario_styles

    styles = scenario_styles({f"scenario {i}": kind for i, kind in enumerate(kinds)})
    assert len(set(map(str, styles.values()))) == len(kinds)
    dashes = [s[1] for s in styles.values() if s != "-"]
    assert all(len(d) % 2 == 0 and all(x > 0 for x in d) for d in dashes)


def test_the_default_configs_scenarios_each_have_their_own_line_style():
    from llmbench.report.plots.model import scenario_styles

    kinds = {"loop": "loop", "threads": "threads", "fixed": "fixed", "sweep": "sweep", "sweep-batch": "sweep"}
    styles = scenario_styles(kinds)
    assert len(set(map(str, styles.values()))) == 5 and styles["loop"] != styles["sweep-batch"]


def test_each_scenarios_dashes_show_in_its_memory_legend_entry(monkeypatch):
    """sweep and sweep-batch read as solid lines in legend entries shorter than one period of their dashes."""
    from llmbench.report.plots.model import MEMORY_LINE_WIDTH, scenario_styles

    drawn = _drawn(monkeypatch)
    scenarios = {
        "loop": scenario("loop", output_tokens=4),
        "threads": scenario("threads", output_tokens=4),
        "fixed": scenario("fixed", output_tokens=4, input_tokens=8),
        "sweep": scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 2]),
        "sweep-batch": scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 2], batching=True),
    }
    plot_memory([record("hf", name, s) for name, s in scenarios.items()], "memory.png", load_strings("en"))
    legend = drawn["memory.png"].axes[0].get_legend()
    entry_pts = legend.handlelength * legend.prop.get_size_in_points()
    styles = scenario_styles({name: s.type for name, s in scenarios.items()})
    periods = [sum(style[1]) * MEMORY_LINE_WIDTH for style in styles.values() if style != "-"]
    assert len(periods) == 4 and max(periods) <= entry_pts, (periods, entry_pts)
