import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.device import resolve_device
from llmbench.io import write_json_atomic
from llmbench.logs import log_to
from llmbench.roofline import measure_bandwidth

log = log_to(snakemake.log[0])
device = resolve_device(snakemake.params.device)
import torch  # noqa: E402

torch.set_num_threads(snakemake.threads)
result = measure_bandwidth(device, gib=1.0 if device == "cuda" else 0.25)
write_json_atomic(snakemake.output[0], result)
log.info("%s: %.1f GB/s", result["name"], result["bytes_per_s"] / 1e9)
