import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbench.analyze.conventions import CONVENTIONS, chunks, convention_samples, tpot_ms
from llmbench.record import Request


def streamed(ttft_ms: float, chunk_gaps: list[tuple[float, int]], first_chunk_tokens: int = 1) -> Request:
    """A request whose tokens arrived in chunks: (gap before the chunk, tokens in it); tokens of one chunk
    share its stamp, so their gaps are 0 (how a served backend stamps them)."""
    itl = [0.0] * (first_chunk_tokens - 1)
    for gap, tokens in chunk_gaps:
        itl += [gap] + [0.0] * (tokens - 1)
    n = len(itl) + 1
    return Request(0, 4, list(range(n)), 0.0, 0.0, ttft_ms, ttft_ms + sum(itl), itl)


def test_each_tool_reads_the_same_stamps_its_own_way():
    # TTFT 100 ms, then a chunk of 1 token after 10 ms and a chunk of 3 tokens after 30 ms: 5 tokens, e2e 140
    r = streamed(100.0, [(10.0, 1), (30.0, 3)])
    samples = convention_samples([r])
    assert samples["llmbench"]["itl_ms"] == [10.0, 30.0, 0.0, 0.0]
    assert samples["inference-perf"]["itl_ms"] == [10.0, 30.0, 0.0, 0.0]
    assert samples["vllm"]["itl_ms"] == [10.0, 30.0]
    assert samples["sglang"]["itl_ms"] == [10.0, 10.0, 10.0, 10.0]
    for tool in ("llmbench", "vllm", "sglang", "inference-perf"):
        assert samples[tool]["tpot_ms"] == [pytest.approx(40.0 / 4)]
    assert samples["guidellm"]["itl_ms"] == [pytest.approx(10.0)]  # their ITL is vLLM's TPOT
    assert samples["guidellm"]["tpot_ms"] == [pytest.approx(140.0 / 5)]  # TTFT included


@settings(max_examples=100, deadline=None)
@given(
    ttft=st.floats(0.1, 1000),
    chunk_gaps=st.lists(st.tuples(st.floats(0.01, 100), st.integers(1, 6)), max_size=20),
)
def test_chunks_come_back_as_they_were_sent_and_every_convention_keeps_the_decode_time(ttft, chunk_gaps):
    r = streamed(ttft, chunk_gaps)
    rebuilt = chunks(r)
    assert [(c.gap_ms, c.tokens) for c in rebuilt[1:]] == chunk_gaps
    assert sum(c.tokens for c in rebuilt) == len(r.output_ids)
    samples = convention_samples([r])
    decode = sum(g for g, _ in chunk_gaps)
    for tool in ("llmbench", "vllm", "sglang", "inference-perf"):
        assert sum(samples[tool]["itl_ms"]) == pytest.approx(decode)
    if len(r.output_ids) > 1:
        assert tpot_ms(r) == pytest.approx(decode / (len(r.output_ids) - 1))


def test_a_request_without_stamps_gives_no_itl_and_one_token_no_tpot():
    r = Request(0, 4, [1, 2, 3], 0.0, 0.0, None, 50.0, [])
    assert chunks(r) == [] and tpot_ms(r) is None
    assert all(not c.itl(r) for name, c in CONVENTIONS.items() if name != "guidellm")
    assert tpot_ms(streamed(5.0, [])) is None
