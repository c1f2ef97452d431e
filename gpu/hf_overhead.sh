#!/usr/bin/env bash
# ON the GPU machine, from the project root, detached: transformers' harness overhead on the GPU (issue #28), no
# staging needed (the image has torch + transformers). Outputs in /tmp/hfo; /tmp/hfo/done at the end.
set -u
O=/tmp/hfo; mkdir -p $O
src=$PWD; rm -rf /tmp/wk /tmp/hfo/done; cp -a "$src" /tmp/wk && cd /tmp/wk || exit 1
export PYTHONPATH=$PWD/src
{ date -u +%T; git rev-parse HEAD; git status --short; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; nproc
  python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"; } > $O/env.txt 2>&1
t0=$SECONDS
python3 -c "
from pathlib import Path
from dataclasses import replace
from llmbench.models.presets import get_preset
from llmbench.models.synthetic import build_synthetic_model
# ChatGLM2-6B's sizes in Llama format: a chatglm2-format folder needs trust_remote_code.
build_synthetic_model(Path('/tmp/m6b'), replace(get_preset('chatglm2-6b-shape'), architecture='llama'), seed=0, dtype='float16')" > $O/build.log 2>&1
echo "model build rc=$? $((SECONDS - t0)) s" >> $O/env.txt
for spec in "hf 2 110" "hf-compile 4 80"; do
  set -- $spec
  echo "== $(date -u +%T) $1" >> $O/env.txt
  timeout 480 python3 benchmarks/harness_overhead.py --backend $1 --model /tmp/m6b --device cuda --dtype float16 \
    --input-tokens 128 --output-tokens 33 --requests $2 --max-seconds $3 < /dev/null > $O/overhead-$1.txt 2>&1
  echo "$1 rc=$? $(date -u +%T)" >> $O/env.txt
done
touch $O/done
