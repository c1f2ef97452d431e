"""How close decoding runs to the memory-bandwidth bound.

At batch size 1 every output token reads every weight once, so tokens/s can
never exceed bandwidth / weight bytes. The bandwidth is measured once per run of
the workflow on the device the runs use (a large device-to-device copy: each
byte read once and written once).
"""

from __future__ import annotations

import time

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def measure_bandwidth(device: str, gib: float = 1.0, repeats: int = 10) -> dict:
    """Copy bandwidth of `device` in bytes/s (read + write counted)."""
    import torch

    n = int(gib * 2**30) // 4
    source = torch.empty(n, dtype=torch.float32, device=device).fill_(1.0)
    target = torch.empty_like(source)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    target.copy_(source)  # warm up
    sync()
    started = time.perf_counter()
    for _ in range(repeats):
        target.copy_(source)
    sync()
    seconds = time.perf_counter() - started
    return {
        "device": device,
        "name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "bytes_per_s": 2 * source.numel() * source.element_size() * repeats / seconds,
        "copy_bytes": source.numel() * source.element_size(),
        "repeats": repeats,
        "threads": torch.get_num_threads(),
    }


def weight_bytes(manifest: dict) -> int:
    return sum(f["bytes"] for f in manifest["files"] if f["path"].endswith(WEIGHT_SUFFIXES))


def roofline(tpot_ms: float, weights: int, bandwidth: float) -> dict:
    """The decode rate at batch 1 against its bandwidth bound."""
    bound = bandwidth / weights  # tokens/s if only weight reads took time
    rate = 1000.0 / tpot_ms
    return {"decode_tok_s": rate, "bound_tok_s": bound, "fraction": rate / bound}


def roofline_rows(summary, manifests: dict[str, dict], bandwidth: dict) -> list[dict]:
    """Decode at batch 1 (sequential scenarios, a sweep's level 1) against the bandwidth bound."""
    tpot = summary[(summary.metric == "tpot_ms") & (summary.status != "failed")]
    single = tpot[tpot.scenario_type.isin(["loop", "fixed"]) | (tpot.concurrency == 1)]
    rows = []
    for row in single.itertuples():
        weights = weight_bytes(manifests[row.model])
        rows.append({"run": f"{row.model}/{row.backend}/{row.scenario}", "model": row.model,
                     "weight_gib": weights / 2**30, **roofline(row.mean, weights, bandwidth["bytes_per_s"])})  # fmt: skip
    return rows
