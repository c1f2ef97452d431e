#!/usr/bin/env bash
# ON the GPU machine, from the project root, detached, after the staging of ../shared/device/README.md (ftllm +
# snakemake in /tmp/ft; llama-cpp-python's sdist in /tmp/lc): where llmbench's llama.cpp decode loses to llama-bench
# (issue #28). One shared-library build of the sdist's llama.cpp serves llama-bench and llama_cpp's ctypes (as in
# peers_one_build.sh); then benchmarks/llamacpp_peer_ab.py with CUDA graphs on and off, and llama-bench beside it.
# Outputs in /tmp/pab; /tmp/pab.done at the end.
set -u
src=$PWD; rm -rf /tmp/wk; cp -a "$src" /tmp/wk && cd /tmp/wk || exit 1
git rev-parse HEAD > /tmp/pab-commit.txt 2>&1; git status --short >> /tmp/pab-commit.txt 2>&1
. /tmp/ft/env.sh
out=/tmp/pab; mkdir -p $out; mv /tmp/pab-commit.txt $out/commit.txt
build=/tmp/llama-bench-build; res=resources/models/chatglm2-6b-shape
cd /tmp/lc && cat lpart00 lpart01 > "$(cat name)" && mkdir -p /tmp/llama-sdist && tar xzf "$(cat name)" -C /tmp/llama-sdist --strip-components=1
cd /tmp/wk
( date -u +%T; timeout 600 snakemake "$res/hf" "$res/llamacpp-float16.gguf" --cores 8 --configfile config/gpu.yaml
  echo "prep rc=$? $(date -u +%T)" ) > $out/prep.log 2>&1 &
( date -u +%T; cmake -S /tmp/llama-sdist/vendor/llama.cpp -B $build -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  && cmake --build $build --target llama-bench llama -j16; echo "build rc=$? $(date -u +%T)" ) > $out/build.log 2>&1 &
wait
tail -1 $out/prep.log > $out/steps.txt; tail -1 $out/build.log >> $out/steps.txt
mkdir -p /tmp/lcsite && cp -r /tmp/llama-sdist/llama_cpp /tmp/lcsite/ && rm -rf /tmp/lcsite/llama_cpp/lib && ln -s $build/bin /tmp/lcsite/llama_cpp/lib
python3 -m pip install -q --no-deps --target /tmp/lcsite /tmp/lc/diskcache-*.whl
export PYTHONPATH=/tmp/lcsite:$PWD/src${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > $out/env.txt 2>&1
args=(--model "$res/hf" --gguf "$res/llamacpp-float16.gguf" --device cuda --dtype float16 --input-tokens 128 --output-tokens 33)
timeout 200 python3 benchmarks/llamacpp_peer_ab.py "${args[@]}" --reps 20 < /dev/null > $out/ab.txt 2>&1; echo "ab rc=$?" >> $out/steps.txt
GGML_CUDA_DISABLE_GRAPHS=1 timeout 200 python3 benchmarks/llamacpp_peer_ab.py "${args[@]}" --reps 20 < /dev/null > $out/ab-no-cuda-graphs.txt 2>&1
echo "ab (no CUDA graphs) rc=$?" >> $out/steps.txt
timeout 120 $build/bin/llama-bench -m "$res/llamacpp-float16.gguf" -ngl 99 -p 0 -n 32 -d 128 -fa 1 -r 10 -o md > $out/llama-bench.md 2>&1
echo "llama-bench rc=$? $(date -u +%T)" >> $out/steps.txt
touch /tmp/pab.done
