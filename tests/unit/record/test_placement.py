"""Where the weights are: from a backend's own report, never assumed where it says otherwise."""

import hypothesis.strategies as st
from hypothesis import given

from llmbench.record import placement

H200_LOG = [  # llama.cpp's lines in the H200 record llamacpp/loop/1.json
    "load_tensors:        CUDA0 model buffer size = 11401.38 MiB",
    "load_tensors:    CUDA_Host model buffer size =   508.00 MiB",
    "llama_kv_cache:      CUDA0 KV buffer size =    42.00 MiB",
    "sched_reserve:      CUDA0 compute buffer size =   135.00 MiB",
]
MIB = 2**20


def test_llama_cpps_host_embedding_is_not_counted_as_weights_on_the_gpu():
    found = placement.from_buffer_log(H200_LOG)
    assert found[placement.WEIGHTS_BYTES_KEY] == round(11401.38 * MIB)
    assert found[placement.HOST_WEIGHTS_BYTES_KEY] == 508 * MIB
    assert found[placement.WEIGHTS_SOURCE_KEY] == placement.SOURCE_BUFFERS


def test_a_log_without_model_buffers_reports_nothing():
    assert placement.from_buffer_log(H200_LOG[2:]) == {}
    assert placement.reported({"buffers": H200_LOG[2:]}) == {}


def test_a_backends_own_keys_come_before_its_log():
    info = {
        placement.WEIGHTS_BYTES_KEY: 7,
        placement.WEIGHTS_SOURCE_KEY: placement.SOURCE_TORCH,
        "buffers": H200_LOG,
    }
    assert placement.reported(info)[placement.WEIGHTS_BYTES_KEY] == 7


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["CUDA0", "CUDA1", "CUDA_Host", "CPU", "CPU_Mapped"]),
            st.integers(1, 10**6).map(lambda n: n / 100),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_device_bytes_are_the_gpu_buffers_and_host_bytes_the_rest(buffers):
    lines = [f"load_tensors: {name} model buffer size = {mib:.2f} MiB" for name, mib in buffers]
    found = placement.from_buffer_log(lines)
    device = sum(round(mib * MIB) for name, mib in buffers if name.startswith("CUDA") and name != "CUDA_Host")
    total = sum(round(mib * MIB) for _, mib in buffers)
    assert found[placement.WEIGHTS_BYTES_KEY] == device
    assert found[placement.WEIGHTS_BYTES_KEY] + found[placement.HOST_WEIGHTS_BYTES_KEY] == total
