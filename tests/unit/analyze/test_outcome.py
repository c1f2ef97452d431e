"""The closing console lines: any mix of run outcomes is counted and named, never hidden."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbench.analyze.outcome import closing_lines, verdict_lines, workflow_outcome
from llmbench.io import write_json_atomic
from llmbench.record import write_record
from records import record, scenario

LOOP = scenario("loop")


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(statuses=st.lists(st.sampled_from(["ok", "invalid", "failed"]), min_size=1, max_size=6))
def test_every_failed_and_invalid_run_is_counted_on_the_console(tmp_path_factory, statuses):
    folder = tmp_path_factory.mktemp("runs")
    paths = []
    for replica, status in enumerate(statuses):
        path = folder / f"{replica}.json"
        write_record(path, record("hf", "loop", LOOP, status=status, replica=replica))
        paths.append(str(path))
    outcome = workflow_outcome(paths)
    lines = closing_lines(outcome, "results/report.html")
    failed, invalid = statuses.count("failed"), statuses.count("invalid")
    assert outcome.ok == (failed == invalid == 0)
    if outcome.ok:  # said, not left to silence
        assert lines == [
            f"{len(statuses)} benchmark runs on record, every one measured; see results/report.html"
        ]
        assert verdict_lines(outcome, "results/report.html") == []
        return
    if failed:
        assert lines[0].startswith(f"{failed} of {len(statuses)} benchmark runs failed: tiny/hf/loop/")
        assert "CUDA out of memory (simulated)" in lines[0] and lines[0].endswith("see results/report.html")
    if invalid:
        assert f"{invalid} of {len(statuses)} benchmark runs measured invalid output" in lines[-1]
    # fail_on_failed_runs' verdict: the same counts first, then why the workflow ends with an error
    verdict = verdict_lines(outcome, "results/report.html")
    assert verdict[:-1] == lines and (verdict == []) == outcome.ok
    assert outcome.ok or verdict[-1].startswith("fail_on_failed_runs is true: this verdict, not a crash")


def test_a_missing_record_counts_as_failed_and_prompt_warnings_are_said(tmp_path):
    prompts = tmp_path / "tiny.json"
    write_json_atomic(
        prompts, {"queries": ["x"], "prompt_ids": [[0]], "warnings": ["query 0 ('x'): 100% ..."]}
    )
    outcome = workflow_outcome([str(tmp_path / "absent.json")], {"tiny": str(prompts)})
    lines = closing_lines(outcome, "results/report.html")
    assert (
        lines[0].startswith("1 of 1 benchmark runs failed: ")
        and "absent.json (no readable record" in lines[0]
    )
    assert lines[1] == "warning: prompts of tiny: query 0 ('x'): 100% ..."
