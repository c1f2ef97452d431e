#!/usr/bin/env bash
# Runs detached ON the H200 after the staged calls (see ../shared/device/README.md): every GPU part of this
# round in one sequence, each part's outputs copied to /tmp/gpuout/<part> as soon as it ends, with its time.
#   parts: 1 = config/gpu.yaml (the README's GPU command), 2 = config/gpu-precision.yaml, 4 = peers (gpu_peers.sh)
set -uo pipefail
# The tree is copied first: later calls re-copy the working tree, and the run must not see code change under it.
O=/tmp/gpuout; mkdir -p $O
src=$(cd "$(dirname "$0")/.." && pwd); rm -rf /tmp/wk; cp -a "$src" /tmp/wk && cd /tmp/wk || exit 1
git rev-parse HEAD > $O/commit.txt 2>&1; git status --short >> $O/commit.txt 2>&1
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a $O/driver.log; }
[ -d /tmp/bnb ] && pip3 install -q --no-index --no-deps --target /tmp/site /tmp/bnb/*.whl > $O/bnb.log 2>&1
. /tmp/ft/env.sh
export PYTHONPATH=$PWD/src:$PYTHONPATH
log "setup: llama-cpp-python CUDA build (niced) beside the preparation"
( nice bash /tmp/lc/build-llamacpp.sh > $O/build-llamacpp.log 2>&1; echo $? > $O/build-llamacpp.rc ) &
build=$!
# llama-bench (part 4) from the same sdist, niced, while nothing is measured yet
( sleep 5; until (cd /tmp/lc && [ -f "$(cat name)" ] && [ "$(md5sum "$(cat name)" | cut -d" " -f1)" = "$(cat md5)" ]); do sleep 2; done; mkdir -p /tmp/llama-sdist && \
  tar xzf /tmp/lc/$(cat /tmp/lc/name) -C /tmp/llama-sdist --strip-components=1 && \
  nice cmake -S /tmp/llama-sdist/vendor/llama.cpp -B /tmp/llama-bench-build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF && \
  nice cmake --build /tmp/llama-bench-build --target llama-bench -j16; echo $? > $O/build-llama-bench.rc ) \
  > $O/build-llama-bench.log 2>&1 &
lbench=$!
t0=$SECONDS
timeout 900 snakemake --cores 16 --resources gpu=1 --configfile config/gpu.yaml --omit-from run_benchmark \
  > $O/1-prepare.log 2>&1
rc=$?; prep_s=$((SECONDS - t0)); log "part 1 preparation rc=$rc ${prep_s} s"
wait $build; log "llama-cpp-python build rc=$(cat $O/build-llamacpp.rc)"
wait $lbench; log "llama-bench build rc=$(cat $O/build-llama-bench.rc 2>/dev/null)"
. /tmp/lc/env.sh
export PYTHONPATH=$PWD/src:$PYTHONPATH
t1=$SECONDS
timeout 1500 snakemake --cores 16 --resources gpu=1 --configfile config/gpu.yaml > $O/2-run.log 2>&1
rc=$?; run_s=$((SECONDS - t1)); log "part 1 run rc=$rc ${run_s} s (Snakemake time, preparation + run: $((prep_s + run_s)) s)"
python3 -m llmbench.publish results $O/part1 --command "snakemake --cores 16 --resources gpu=1 --configfile config/gpu.yaml" \
  --wall-s $((prep_s + run_s)) > $O/publish1.log 2>&1; log "publish 1 rc=$?"
cp $O/1-prepare.log $O/2-run.log $O/part1/ 2>/dev/null
mv results results-gpu
t2=$SECONDS
timeout 1200 snakemake --cores 16 --resources gpu=1 --configfile config/gpu-precision.yaml > $O/3-precision.log 2>&1
rc=$?; log "part 2 precision rc=$rc $((SECONDS - t2)) s"
python3 -m llmbench.publish results $O/part2 --command "snakemake --cores 16 --resources gpu=1 --configfile config/gpu-precision.yaml" \
  --wall-s $((SECONDS - t2)) > $O/publish2.log 2>&1; log "publish 2 rc=$?"
cp $O/3-precision.log $O/part2/ 2>/dev/null
mv results results-precision; mv results-gpu results
t4=$SECONDS
LLAMA_SDIST=/tmp/lc/$(cat /tmp/lc/name) bash benchmarks/gpu_peers.sh $O/part4 > $O/4-peers.log 2>&1
log "part 4 peers rc=$? $((SECONDS - t4)) s"
touch $O/done
