import pandas as pd
import pytest

from llmbench.agreement import agreement_table, compare_sequences, verdicts


def test_identical_sequences():
    assert compare_sequences([1, 2, 3, 4], [1, 2, 3, 4]) == {
        "tokens": 4,
        "first_divergence": None,
        "prefix_agreement": 1.0,
        "token_agreement": 1.0,
    }


def test_divergence_position_and_fractions():
    result = compare_sequences([1, 2, 3, 4], [1, 2, 9, 4])
    assert result["first_divergence"] == 2
    assert result["prefix_agreement"] == 0.5 and result["token_agreement"] == 0.75


def test_shorter_candidate_diverges_where_it_ends():
    result = compare_sequences([1, 2, 3, 4], [1, 2])
    assert result["first_divergence"] == 2 and result["token_agreement"] == 0.5


def run(backend, outputs, scenario="loop", status="ok"):
    requests = [{"query_index": i, "output_ids": ids} for i, ids in enumerate(outputs)]
    return {
        "status": status,
        "spec": {"model": "m", "scenario_name": scenario, "backend": backend},
        "measurement": {"repetitions": [{"requests": requests}]},
    }


def test_a_backend_that_matches_only_the_first_token_is_flagged():
    reference = [[1, 2, 3, 4], [5, 6, 7, 8]]
    results = [
        run("hf", reference),
        run("good", [[1, 2, 3, 4], [5, 6, 7, 9]]),  # late divergence: rounding
        run("broken", [[1, 9, 9, 9], [5, 0, 0, 0]]),  # a wrong kernel
        run("failed", [], status="failed"),
    ]
    table = agreement_table(results, "hf")
    assert set(table.backend) == {"good", "broken"}
    summary = verdicts(table, min_prefix_agreement=0.5).set_index("backend")
    assert summary.loc["good", "identical"] == 1 and summary.loc["good", "prefix_agreement"] == pytest.approx(
        0.875
    )
    assert not summary.loc["good", "disagrees"]
    assert summary.loc["broken", "disagrees"] and summary.loc["broken", "earliest_divergence"] == 1


def test_no_reference_run_means_no_rows():
    assert agreement_table([run("fastllm", [[1]])], "hf").empty
    assert verdicts(pd.DataFrame(agreement_table([], "hf")), 0.5).empty
