import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.io import write_json_atomic
from llmbench.logs import log_to
from llmbench.models.acquire import acquire
from llmbench.models.manifest import build_manifest

log = log_to(snakemake.log[0])
settings = snakemake.params.settings
log.info("acquiring %s from %s", snakemake.wildcards.model, settings)
details = acquire(settings, snakemake.output.model)
manifest = build_manifest(snakemake.output.model, source=settings, details=details)
write_json_atomic(snakemake.output.manifest, manifest)
log.info(
    "manifest sha256 %s, %d files, %d bytes",
    manifest["sha256"],
    len(manifest["files"]),
    manifest["total_bytes"],
)
