#!/usr/bin/env bash
# The peer comparison on a GPU, in one call: each backend against its own tool or a bare path, on the
# same files and GPU, and llmbench's harness overhead for every backend (transformers' on the GPU too).
#
#   bash benchmarks/gpu_peers.sh OUT [MODEL]        # from the project root, on the GPU machine
#
# Before it (see ../shared/device/README.md): the staged ftllm + snakemake (/tmp/ft/env.sh), llama-cpp-python
# built with CUDA (/tmp/lc/env.sh; its sdist stays in /tmp/lc), sourced. It then
#   1. prepares the model's files with the workflow's own rules (skipped when they exist): the HF folder,
#      FastLLM's .flm and llama.cpp's .gguf (config/gpu.yaml: chatglm2-6b-shape, float16);
#   2. builds llama-bench from the same sdist's vendored llama.cpp (skipped when $LLAMA_BENCH exists);
#   3. runs llama-bench: tg32 at depth 128 (-p 0 -n 32 -d 128), flash attention on and off, 10 repetitions, and
#      with flash attention at half and all of the cores' threads (-t); then pg128,32 (-pg 128,32: a 128-token
#      prompt and 32 decode steps, the shape of llmbench's requests of step 5, whose e2e pays the first decode
#      step after a prompt that tg at a depth never decodes);
#   3b. (when SPECS names llamacpp) benchmarks/tg_params.c, compiled against that build's libllama: llama-bench's
#      tg loop in C with llama-bench's settings, then each of llmbench's engine's settings alone, then all of them;
#      then against llama-cpp-python's build too, alternating; 3c: llama-bench on llama-cpp-python's libraries;
#   3d. (when SPECS names llamacpp) benchmarks/llamacpp_job_vs_bench.py: llama-bench and a process holding only
#      llmbench's llama.cpp backend, alternating, $PAIRS (8) pairs: llmbench's rate as % of llama-bench, with its CI;
#   4. (when SPECS names llamacpp) benchmarks/llamacpp_peer_ab.py: llama-bench's loop in Python and in C, the engine
#      stepped from Python and in its C loop, and the backend's measured generate(), one process, 20 rounds,
#      then again pinned to half the cores (taskset: llmbench's threads follow the affinity); 3b's C program
#      before and after it (tg-params-around-4.txt: llama-bench's loop in a process of its own);
#      (when SPECS names hf) benchmarks/hf_peer_ab.py: generate() bare, with the streamer, with the resource
#      sampler (its own process, and a thread as before), and as measured, batch 2, 20 rounds;
#   5. runs benchmarks/harness_overhead.py per backend with a prompt of 128 and 33 output tokens (32 decode
#      steps after the first token, as tg32 at depth 128): its lines give the bare path's tok/s, the harness
#      overhead with its CI (batch 1 and batched) and llmbench's decode tok/s, to set beside llama-bench's tg.
# Everything goes to OUT: gpu_peers.log (all output), llama-bench.md, tg-params.txt, tg-params-builds.txt,
# llama-bench-builds.txt, job-vs-bench.txt, llamacpp-peer-ab.txt, hf-peer-ab.txt, overhead-<backend>.txt, env.txt.
# Each step has a timeout; a failed step is logged and the rest still run. UNTIL_3B=1 stops after step 3d (the
# name is older than 3c and 3d);
# SKIP="3b 3d 4" leaves out the steps it names (3b, 3d, 4: the step-by-step comparisons, for a shorter call).
set -uo pipefail
out=${1:?usage: gpu_peers.sh OUT [MODEL]}
model=${2:-chatglm2-6b-shape}
dtype=${DTYPE:-float16}
config=${CONFIG:-config/gpu.yaml}
sdist=${LLAMA_SDIST:-/tmp/lc/$(cat /tmp/lc/name 2>/dev/null)}
build=${LLAMA_BUILD:-/tmp/llama-bench-build}
bench=${LLAMA_BENCH:-$build/bin/llama-bench}
res=resources/models/$model
mkdir -p "$out"
exec > >(tee -a "$out/gpu_peers.log") 2>&1
step() { echo "== $(date -u +%H:%M:%S) $*"; }
skipped() { case " ${SKIP:-} " in *" $1 "*) echo "== step $1 skipped (SKIP)"; return 0 ;; esac; return 1; }
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}

step "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; nproc; git rev-parse HEAD 2>/dev/null
  python3 -c "import torch, transformers, ftllm, llama_cpp; print(torch.__version__, transformers.__version__, ftllm.__version__, llama_cpp.__version__)"
} > "$out/env.txt" 2>&1; cat "$out/env.txt"

step "1. model files ($res)"
if [ ! -f "$res/fastllm-$dtype.flm" ] || [ ! -f "$res/llamacpp-$dtype.gguf" ] || [ ! -d "$res/hf" ]; then
  timeout 900 snakemake "$res/hf" "$res/fastllm-$dtype.flm" "$res/llamacpp-$dtype.gguf" --cores "$(nproc)" \
    --configfile "$config" || echo "model preparation failed"
fi

step "2. llama-bench from $sdist"
if [ ! -x "$bench" ]; then
  src=/tmp/llama-sdist && mkdir -p "$src" && tar xzf "$sdist" -C "$src" --strip-components=1
  timeout 900 cmake -S "$src/vendor/llama.cpp" -B "$build" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null &&
    timeout 900 cmake --build "$build" --target llama-bench -j"$(nproc)" >/dev/null || echo "llama-bench build failed"
fi

step "3. llama-bench tg32 at depth 128"
# -t: llama-bench's own default (its physical-core count), half the cores and all of them (llmbench's default:
# the process's affinity), flash attention on; then its default threads with flash attention off.
timeout 300 "$bench" -m "$res/llamacpp-$dtype.gguf" -ngl 99 -p 0 -n 32 -d 128 -fa 1 -r 10 -o md \
  | tee "$out/llama-bench.md" || echo "llama-bench failed"
timeout 300 "$bench" -m "$res/llamacpp-$dtype.gguf" -ngl 99 -p 0 -n 32 -d 128 -fa 1 -t "$(($(nproc) / 2)),$(nproc)" \
  -r 10 -o md | tee -a "$out/llama-bench.md" || echo "llama-bench failed"
timeout 300 "$bench" -m "$res/llamacpp-$dtype.gguf" -ngl 99 -p 0 -n 32 -d 128 -fa 0 -r 10 -o md \
  | tee -a "$out/llama-bench.md" || echo "llama-bench failed"
timeout 300 "$bench" -m "$res/llamacpp-$dtype.gguf" -ngl 99 -p 0 -n 0 -pg 128,32 -fa 1 -r 10 -o md \
  | tee -a "$out/llama-bench.md" || echo "llama-bench failed"

step "3b. llama-bench's tg loop in C over the same libllama, one context setting at a time (benchmarks/tg_params.c)"
# bench: llama-bench's settings but its threadpool (threads: the physical cores); each next line changes one setting
# to llmbench's engine's (threads: the process's affinity; llama_decode; weights read, not mapped; 4 sequences of
# 2,048 cells, n_batch = n_ctx; the next id from a greedy chain on the host, in the graph, with the EOS ids masked by
# llama.cpp's logit bias or by llmbench's mask; -ids: the chain ending in ids_only, only the id leaving the graph);
# engine: all of them (engine-ids: as llmbench's engine since 2026-12-07); poll50: a threadpool attached as llama-bench
# attaches it (its -poll 50); bench-again: drift. Then, where llama-cpp-python loads a build of its own (not
# gpu/peers_one_build.sh's one library), the same program and llama-bench on that build beside llama-bench's.
skipped 3b || case "${SPECS:-llamacpp}" in *llamacpp*)
  llama=$(dirname "$(dirname "$(find /tmp/llama-sdist -path '*vendor/llama.cpp/include/llama.h' | head -1)")")
  lib=$(dirname "$(find "$build" -name 'libllama.so*' | head -1)")
  pylib=$(python3 -c "import llama_cpp, os; print(os.path.join(os.path.dirname(llama_cpp.__file__), 'lib'))")
  cores=$(lscpu -p=core | grep -v '^#' | sort -u | wc -l)
  compiled=1
  for pair in "/tmp/tg_params:$lib" "/tmp/tg_params_py:$pylib"; do
    cc -O2 -o "${pair%%:*}" benchmarks/tg_params.c -I"$llama/include" -I"$llama/ggml/include" -L"${pair#*:}" -lllama \
      -lggml -lggml-base -Wl,-rpath,"${pair#*:}" -lm || compiled=0
  done
  if [ "$compiled" = 1 ]; then
    timeout 300 /tmp/tg_params "$res/llamacpp-$dtype.gguf" 10 "bench:threads=$cores" "threads:threads=$(nproc)" \
      "decode:threads=$cores,api=decode" "read:threads=$cores,mmap=0" \
      "slots:threads=$cores,seq=4,ctx=8192,batch=8192" "sample:threads=$cores,sample=1" \
      "graph:threads=$cores,sample=2" "graph-bias:threads=$cores,sample=3" "graph-mask:threads=$cores,sample=4" \
      "graph-mask-ids:threads=$cores,sample=4,ids=1" "slots-mask:threads=$cores,seq=4,ctx=8192,batch=8192,sample=4" \
      "engine:threads=$(nproc),api=decode,mmap=0,seq=4,ctx=8192,batch=8192,sample=4" \
      "engine-ids:threads=$(nproc),api=decode,mmap=0,seq=4,ctx=8192,batch=8192,sample=4,ids=1" \
      "engine-bias:threads=$(nproc),api=decode,mmap=0,seq=4,ctx=8192,batch=8192,sample=3" \
      "poll50:threads=$cores,poll=50" "bench-again:threads=$cores" \
      < /dev/null 2>&1 | tee "$out/tg-params.txt" || echo "tg_params failed"
    if [ "$(realpath "$pylib")" = "$(realpath "$lib")" ]; then
      echo "llama-cpp-python loads llama-bench's build ($lib): one library, nothing to compare (3b', 3c)"
    else
      step "3b'. the same loop on llama-cpp-python's build ($pylib) and on llama-bench's, alternating"
      for build_of in bench python bench python; do
        binary=/tmp/tg_params; [ "$build_of" = python ] && binary=/tmp/tg_params_py
        echo "-- $build_of's build"
        timeout 120 "$binary" "$res/llamacpp-$dtype.gguf" 8 "bench:threads=$cores" "graph-mask:threads=$cores,sample=4" \
          "engine:threads=$(nproc),api=decode,mmap=0,ctx=512,batch=512,sample=4" < /dev/null 2>&1
      done | tee "$out/tg-params-builds.txt" || echo "tg_params (builds) failed"
      step "3c. llama-bench itself on llama-cpp-python's libraries (LD_LIBRARY_PATH), alternating with its own"
      LD_LIBRARY_PATH=$pylib ldd "$bench" | grep -E "libllama|libggml" | tee "$out/llama-bench-builds.txt"
      for build_of in own python own python; do
        echo "-- $build_of" | tee -a "$out/llama-bench-builds.txt"
        if [ "$build_of" = python ]; then
          LD_LIBRARY_PATH=$pylib timeout 120 "$bench" -m "$res/llamacpp-$dtype.gguf" -ngl 99 -p 0 -n 32 -d 128 -fa 1 -r 5 -o md
        else
          timeout 120 "$bench" -m "$res/llamacpp-$dtype.gguf" -ngl 99 -p 0 -n 32 -d 128 -fa 1 -r 5 -o md
        fi 2>&1 | grep -E "^\| .*tg32" | tee -a "$out/llama-bench-builds.txt"
      done
    fi
  else
    echo "tg_params did not compile (llama.h under $llama, libllama in $lib or $pylib)"
  fi ;;
esac

step "3d. llmbench's llama.cpp backend alone in a process (a job) against llama-bench, alternating"
# benchmarks/llamacpp_job_vs_bench.py: llama-bench drifts by ~2 % over minutes, and a process holding other
# contexts beside llmbench's runs ~2 % slower (docs/results/h100, 2026-12-07): this is the like-for-like figure.
skipped 3d || case "${SPECS:-llamacpp}" in *llamacpp*)
  timeout 600 python3 benchmarks/llamacpp_job_vs_bench.py --llama-bench "$bench" --model "$res/hf" \
    --gguf "$res/llamacpp-$dtype.gguf" --device cuda --dtype "$dtype" --pairs "${PAIRS:-8}" < /dev/null \
    2>&1 | tee "$out/job-vs-bench.txt" || echo "llamacpp_job_vs_bench failed" ;;
esac

if [ -n "${UNTIL_3B:-}" ]; then step "done (UNTIL_3B)"; exit 0; fi

step "4. llama.cpp's decode loop, variant by variant, in one process (benchmarks/llamacpp_peer_ab.py)"
skipped 4 || case "${SPECS:-llamacpp}" in *llamacpp*)
  # llama-bench's loop in a C process of its own just before and after (3b's program): the reference for tg-c
  tg_c_process() {
    local cores; cores=$(lscpu -p=core | grep -v '^#' | sort -u | wc -l)
    [ -x /tmp/tg_params ] && timeout 120 /tmp/tg_params "$res/llamacpp-$dtype.gguf" 8 "bench:threads=$cores" \
      "graph-mask:threads=$cores,sample=4" < /dev/null 2>&1 | tee -a "$out/tg-params-around-4.txt"
  }
  tg_c_process
  timeout 300 python3 benchmarks/llamacpp_peer_ab.py --model "$res/hf" --gguf "$res/llamacpp-$dtype.gguf" \
    --device cuda --dtype "$dtype" --input-tokens 128 --output-tokens 33 --reps 20 < /dev/null \
    > "$out/llamacpp-peer-ab.txt" 2>&1 || echo "llamacpp_peer_ab failed ($?)"
  grep -E "^  |^llamacpp" "$out/llamacpp-peer-ab.txt" || tail -5 "$out/llamacpp-peer-ab.txt"
  # the same on half the cores (llmbench's threads follow the process's affinity)
  timeout 300 taskset -c 0-$(($(nproc) / 2 - 1)) python3 benchmarks/llamacpp_peer_ab.py --model "$res/hf" \
    --gguf "$res/llamacpp-$dtype.gguf" --device cuda --dtype "$dtype" --input-tokens 128 --output-tokens 33 --reps 20 \
    < /dev/null > "$out/llamacpp-peer-ab-half-cores.txt" 2>&1 || echo "llamacpp_peer_ab (half the cores) failed ($?)"
  grep -E "^  |^llamacpp" "$out/llamacpp-peer-ab-half-cores.txt" || tail -5 "$out/llamacpp-peer-ab-half-cores.txt"
  tg_c_process ;;
esac

skipped 4 || case ";${SPECS:-hf};" in *";hf "*|*";hf;"*)
  step "4b. transformers' generate() against its parts (benchmarks/hf_peer_ab.py), batch 2"
  timeout 300 python3 benchmarks/hf_peer_ab.py --model "$res/hf" --device cuda --dtype "$dtype" --input-tokens 128 \
    --output-tokens 33 --requests 2 --batch --reps 20 < /dev/null > "$out/hf-peer-ab.txt" 2>&1 || echo "hf_peer_ab failed ($?)"
  grep -E "^  |^hf" "$out/hf-peer-ab.txt" || tail -5 "$out/hf-peer-ab.txt" ;;
esac

step "5. llmbench against each bare path"
common=(--model "$res/hf" --artifact "$res/fastllm-$dtype.flm" --gguf "$res/llamacpp-$dtype.gguf" --device cuda
  --dtype "$dtype" --input-tokens 128 --output-tokens 33)
# transformers' generate() decodes ~30 tok/s here (a pass of 2 x 33 tokens ~2.5 s): fewer requests, more time.
# SPECS: "backend requests max_seconds" per backend, ;-separated (device time is scarce: shorten it there).
IFS=";" read -ra specs <<< "${SPECS:-llamacpp 4 60;fastllm 4 60;hf-compile 4 90;hf 2 150}"
for spec in "${specs[@]}"; do
  set -- $spec
  step "   $1 (batch 1 and batch $2, up to $3 s each)"
  timeout $((4 * $3 + 240)) python3 benchmarks/harness_overhead.py --backend "$1" "${common[@]}" \
    --requests "$2" --max-seconds "$3" < /dev/null > "$out/overhead-$1.txt" 2>&1 || echo "$1 failed ($?)"
  grep -E "^$1 " "$out/overhead-$1.txt" || tail -5 "$out/overhead-$1.txt"
done
step "done"
