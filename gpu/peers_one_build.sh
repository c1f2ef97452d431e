#!/usr/bin/env bash
# Ran on an H100 on 2026-12-06 (docs/results/h100/README.md). Carry it with .dev/l2 (stage-llamacpp.sh) and run
# `setsid nohup bash gpu/peers_one_build.sh > /tmp/peers.log 2>&1 &` from the project root; wait for /tmp/peers.done.
# On the GPU machine, from the project root, after /tmp/ft (ftllm, snakemake) is set up and .dev/l* moved to /tmp/lc.
# One llama.cpp build (shared libs) serves both llama-bench and llama-cpp-python (LLAMA_CPP_LIB_PATH + lib symlink),
# so the peer comparison runs the same libllama; falls back to build-llamacpp.sh if the import fails.
set -u
# a copy of the tree: later calls re-copy the working tree, and this run must not see code change under it
src=$PWD; rm -rf /tmp/wk; cp -a "$src" /tmp/wk && cd /tmp/wk || exit 1
git rev-parse HEAD > /tmp/commit.txt 2>&1; git status --short >> /tmp/commit.txt 2>&1
. /tmp/ft/env.sh
out=/tmp/peers; mkdir -p $out
build=/tmp/llama-bench-build; res=resources/models/chatglm2-6b-shape
cd /tmp/lc && cat lpart00 lpart01 > "$(cat name)" && mkdir -p /tmp/llama-sdist && tar xzf "$(cat name)" -C /tmp/llama-sdist --strip-components=1
cd /tmp/wk
( date -u +%T; timeout 900 snakemake "$res/hf" "$res/fastllm-float16.flm" "$res/llamacpp-float16.gguf" --cores 8 \
    --configfile config/gpu.yaml; echo "prep rc=$? $(date -u +%T)" ) > $out/prep.log 2>&1 &
( date -u +%T; cmake -S /tmp/llama-sdist/vendor/llama.cpp -B $build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  && cmake --build $build --target llama-bench llama-quantize llama -j16; echo "build rc=$? $(date -u +%T)" ) > $out/build.log 2>&1 &
wait
tail -1 $out/prep.log; tail -1 $out/build.log
mkdir -p /tmp/lcsite && cp -r /tmp/llama-sdist/llama_cpp /tmp/lcsite/ && rm -rf /tmp/lcsite/llama_cpp/lib && ln -s $build/bin /tmp/lcsite/llama_cpp/lib
python3 -m pip install -q --no-deps --target /tmp/lcsite /tmp/lc/diskcache-*.whl
echo 'export PYTHONPATH=/tmp/lcsite${PYTHONPATH:+:$PYTHONPATH}' > /tmp/lc/env.sh
. /tmp/lc/env.sh
ls $build/bin > $out/bin.txt
if ! python3 -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__, 'offload', llama_cpp.llama_supports_gpu_offload()); assert llama_cpp.llama_supports_gpu_offload()" > $out/import.log 2>&1; then
  echo "shared-lib import failed; building the wheel" >> $out/import.log
  rm -rf /tmp/lcsite; bash /tmp/lc/build-llamacpp.sh >> $out/import.log 2>&1
fi
cat $out/import.log
SPECS="${SPECS:-llamacpp 4 60;fastllm 4 45;hf-compile 4 60;hf 2 90}" bash benchmarks/gpu_peers.sh $out
cp /tmp/commit.txt $out/
touch /tmp/peers.done
