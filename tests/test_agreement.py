import pandas as pd
import pytest

from llmbench.agreement import agreement_rows, compare_sequences, reference_logits, verdicts
from llmbench.io import read_json


def test_identical_sequences():
    assert compare_sequences([1, 2, 3, 4], [1, 2, 3, 4]) == {
        "tokens": 4, "first_divergence": None, "prefix_agreement": 1.0, "token_agreement": 1.0,
    }  # fmt: skip


def test_divergence_position_and_fractions():
    result = compare_sequences([1, 2, 3, 4], [1, 2, 9, 4])
    assert result["first_divergence"] == 2
    assert result["prefix_agreement"] == 0.5 and result["token_agreement"] == 0.75


def test_shorter_candidate_diverges_where_it_ends():
    result = compare_sequences([1, 2, 3, 4], [1, 2])
    assert result["first_divergence"] == 2 and result["token_agreement"] == 0.5


def run(backend, outputs, scenario="loop", status="ok"):
    requests = [{"query_index": i, "output_ids": ids} for i, ids in enumerate(outputs)]
    return {"status": status, "spec": {"model": "m", "scenario_name": scenario, "backend": backend},
            "measurement": {"repetitions": [{"requests": requests}]}}  # fmt: skip


def test_positional_comparison_against_the_reference_backend():
    results = [
        run("hf", [[1, 2, 3, 4], [5, 6, 7, 8]]),
        run("other", [[1, 2, 3, 4], [5, 6, 7, 9]]),
        run("failed", [], status="failed"),
    ]
    table = pd.DataFrame(agreement_rows(results, prompts=[[0], [0]], reference="hf"))
    assert set(table.backend) == {"hf", "other"}
    other = table[table.backend == "other"].set_index("query_index")
    assert pd.isna(other.loc[0, "first_divergence"]) and other.loc[1, "first_divergence"] == 3
    assert table[table.backend == "hf"]["first_divergence"].isna().all()


@pytest.fixture(scope="module")
def reference(tiny_model):
    return reference_logits(str(tiny_model), "float32", "cpu", 1)


def greedy(logits_of, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        ids.append(int(logits_of(ids)[-1].argmax()))
    return ids[len(prompt) :]


def test_teacher_forcing_tells_a_correct_backend_from_a_wrong_one(reference, tiny_prompt_ids):
    prompts = read_json(tiny_prompt_ids)["prompt_ids"][:2]
    correct = [greedy(reference, p, 8) for p in prompts]
    # A wrong kernel: right first token, then tokens the model would never pick.
    wrong = [[seq[0]] + [(t * 7 + 13) % 2048 for t in seq[1:]] for seq in correct]
    results = [run("hf", correct), run("broken", wrong)]
    table = pd.DataFrame(agreement_rows(results, prompts, "hf", reference))
    by_backend = table.groupby("backend")
    assert by_backend["forced_agreement"].min()["hf"] == 1.0
    assert table[table.backend == "hf"]["forced_first_miss"].isna().all()
    assert by_backend["forced_agreement"].max()["broken"] <= 1 / 8 + 1e-9
    assert (table[table.backend == "broken"]["forced_first_miss"] == 1).all()
    summary = verdicts(table, min_forced_agreement=0.9).set_index("backend")
    assert not summary.loc["hf", "disagrees"] and summary.loc["broken", "disagrees"]
    assert summary.loc["broken", "earliest_divergence"] == 1 and summary.loc["broken", "identical"] == 0


def test_no_rows_means_an_empty_verdict_table():
    assert verdicts(pd.DataFrame(agreement_rows([], [], "hf")), 0.9).empty
