"""A real single-node SLURM (Debian's slurmctld + slurmd + munge) for tests,
configured in a temporary folder and stopped afterwards.

The node declares a GPU that is /dev/null (SLURM allocates it like any GRES;
nothing uses it) and partitions named `cpu` and `gpu`, as profiles/slurm
expects. `SlurmdParameters=config_overrides` lets the node claim the 16 cores
and 128 GB a GPU node has, so the profile's requests fit unchanged on a
two-core test machine.

One thing cannot stay in the folder: snakemake-executor-plugin-slurm-jobstep
removes SLURM_CONF from the environment of the `srun` it runs inside each job,
so that srun only finds the configuration at /etc/slurm/slurm.conf. The
cluster links it there for its lifetime, and refuses to run where a
slurm.conf that is not its own already exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


def missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    absent = [d for d in (*DAEMONS, "sbatch", "squeue") if not shutil.which(d)]
    if absent:
        return f"{', '.join(absent)} not found: install Debian's slurmctld slurmd slurm-client munge (make test does)"
    if os.geteuid() != 0:
        return "a test SLURM needs root (slurmd runs jobs as their users)"
    if SYSTEM_CONF.exists() and not SYSTEM_CONF.is_symlink():
        return f"{SYSTEM_CONF} exists: refusing to touch a real cluster's configuration"
    return None


def _config(folder: Path, host: str) -> str:
    return f"""ClusterName=llmbench-test
SlurmctldHost={host}
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={folder}/munge/socket
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SlurmdParameters=config_overrides
MinJobAge=600
ReturnToService=2
MpiDefault=none
NodeName={host} CPUs=16 RealMemory=128000 Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def single_node_slurm(folder: Path):
    """Start munged, slurmctld and slurmd in `folder`; yield the environment that reaches them."""
    host = socket.gethostname()
    for sub in ("munge", "state", "spool", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "munge").chmod(0o700)
    key = folder / "munge/munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o600)
    conf = folder / "slurm.conf"
    conf.write_text(_config(folder, host))
    (folder / "gres.conf").write_text(f"NodeName={host} Name=gpu File=/dev/null\n")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SYSTEM_CONF.unlink(missing_ok=True)
    SYSTEM_CONF.symlink_to(conf)
    try:
        subprocess.run(
            [
                "munged",
                "--force",
                f"--socket={folder}/munge/socket",
                f"--key-file={key}",
                f"--log-file={folder}/log/munged.log",
                f"--pid-file={folder}/munge/pid",
                f"--seed-file={folder}/munge/seed",
            ],
            check=True,
            env=env,
        )
        subprocess.run(["slurmctld", "-f", str(conf)], check=True, env=env)
        subprocess.run(["slurmd", "-f", str(conf)], check=True, env=env)
        _wait_until_idle(env, folder)
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--quiet", "--user=root"], env=env, check=False)
        for pid_file in (folder / "slurmd.pid", folder / "slurmctld.pid", folder / "munge/pid"):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
        if SYSTEM_CONF.is_symlink():
            SYSTEM_CONF.unlink()


def _wait_until_idle(env: dict, folder: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = subprocess.run(
            ["sinfo", "--noheader", "--format=%T"], env=env, capture_output=True, text=True
        ).stdout.split()
        if states and all(state == "idle" for state in states):
            return
        time.sleep(0.5)
    logs = "\n".join((folder / "log" / name).read_text()[-2000:] for name in ("slurmctld.log", "slurmd.log"))
    raise RuntimeError(f"the test SLURM node never became idle:\n{logs}")
