// llama-bench's tg loop in C, one context parameter at a time (issue #28): which of the settings llmbench's
// llama.cpp engine uses differently from llama-bench costs decode speed?
//
//   cc -O2 -o tg_params benchmarks/tg_params.c -I$LLAMA/include -I$LLAMA/ggml/include -L$BUILD/bin -lllama
//      -lggml -lggml-base -Wl,-rpath,$BUILD/bin -lm
//   ./tg_params MODEL.gguf REPS NAME:key=value,... [NAME:key=value,...]
//
// Each configuration is a context (and, where `mmap` differs, a model) of its own. Every repetition visits the
// configurations in turn (drift falls on all alike): clear the KV cache, decode a --depth prompt of random ids
// (untimed), then time `gen` decode steps of one token each, llama_synchronize after each, as llama-bench's
// test_gen does. Prints per configuration the mean and standard deviation of the repetitions' tok/s (llama-bench's
// "t/s") and the ratio of means to the first configuration; for those that choose ids, a hash of the ids chosen
// (the repetitions' prompts are the same in every configuration: the same hash, the same ids).
//
// Keys (llama-bench's value in brackets): ctx n_ctx [depth + gen], batch n_batch [2048], ubatch n_ubatch [512],
// seq n_seq_max [1], unified kv_unified [0], fa flash attention 0/1 [1], threads [physical cores: pass it],
// mmap 1 = LLAMA_LOAD_MODE_MMAP, 0 = NONE (llmbench's `read`), -1 AUTO [-1], api process|decode
// (llama_process(DECODE) as llama-bench, llama_decode as llmbench) [process], sample: how the next id is chosen
// [0: a random id, as llama-bench; llama-bench never picks one]: 1 a greedy chain run on the host over the output's
// logits; 2 a greedy chain attached to the context (llama_set_sampler: the argmax in the decode graph); 3 logit
// bias -inf on the EOS ids + greedy, attached (llmbench's engine until 2026-12-07); 4 the EOS ids set to -inf by
// `mask` below + greedy, attached (2-4: a chain attached to each of the `seq` sequences, as llmbench's engine
// attaches one per slot); ids 1: end an attached chain with `ids_only` below (only the id leaves the graph, as
// llmbench's engine since 2026-12-07) [0]; depth [128], gen [32], poll (attach a ggml threadpool with this poll level, as
// llama-bench does; -1: none, llama.cpp's own) [50; here -1].
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include "llama.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

#define MAX_CONFIGS 24
#define MAX_DEPTH 4096

typedef struct {
    char name[64];
    int ctx, batch, ubatch, seq, unified, fa, threads, mmap, decode_api, sample, ids_only, depth, gen, poll;
    struct llama_model * model;
    struct llama_context * lctx;
    struct llama_sampler * chain;
    struct llama_batch plain;        // for llama_decode, allocated once (as llmbench's engine does)
    struct llama_batch_ext * ext;    // for llama_process
    double sum, sum2;
    unsigned long ids_hash;          // of the ids chosen (sample > 0): configurations that choose alike agree
} config_t;

// `mask`: a sampler that sets the logits of a few ids to -inf. In the graph it is one FILL of a 1-element tensor and
// one in-place SET per id, no input: llama.cpp's logit-bias sampler instead fills a zero vector of n_vocab, SET_ROWS
// the biases, ADDs it, and uploads its bias and index tensors from the host with two blocking copies every step.
typedef struct { int n; llama_token ids[8]; } mask_t;

static const char * mask_name(const struct llama_sampler * smpl) { (void) smpl; return "mask"; }

static void mask_apply(struct llama_sampler * smpl, llama_token_data_array * cur) {
    const mask_t * m = smpl->ctx;
    for (size_t i = 0; i < cur->size; i++)
        for (int k = 0; k < m->n; k++)
            if (cur->data[i].id == m->ids[k]) cur->data[i].logit = -INFINITY;
}

static bool mask_backend_init(struct llama_sampler * smpl, ggml_backend_buffer_type_t buft, uint32_t n_outputs) {
    (void) smpl, (void) buft, (void) n_outputs;
    return true;
}

static void mask_backend_apply(struct llama_sampler * smpl, struct ggml_context * ctx, struct ggml_cgraph * gf,
                               struct llama_sampler_data * data) {
    (void) gf;
    const mask_t * m = smpl->ctx;
    if (m->n == 0) return;
    struct ggml_tensor * inf = ggml_fill(ctx, ggml_view_1d(ctx, data->logits, 1, 0), -INFINITY);
    for (int k = 0; k < m->n; k++)
        data->logits = ggml_set_1d_inplace(ctx, data->logits, inf, (size_t) m->ids[k] * sizeof(float));
}

static struct llama_sampler_i mask_iface = {
    .name = mask_name, .apply = mask_apply, .backend_init = mask_backend_init, .backend_apply = mask_backend_apply,
};

// `ids_only`: drops the chain's logits from the graph's outputs once greedy has chosen; without it llama.cpp copies
// all n_vocab logits to the host beside the id after every step (build_sampling keeps data->logits as an output).
static const char * ids_only_name(const struct llama_sampler * smpl) { (void) smpl; return "ids-only"; }

static void ids_only_apply(struct llama_sampler * smpl, llama_token_data_array * cur) { (void) smpl, (void) cur; }

static void ids_only_backend_apply(struct llama_sampler * smpl, struct ggml_context * ctx, struct ggml_cgraph * gf,
                                   struct llama_sampler_data * data) {
    (void) smpl, (void) ctx, (void) gf;
    if (data->sampled) data->logits = data->probs = NULL, data->candidates = NULL;
}

static struct llama_sampler_i ids_only_iface = {
    .name = ids_only_name, .apply = ids_only_apply, .backend_init = mask_backend_init,
    .backend_apply = ids_only_backend_apply,
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char * text, void * user_data) {
    (void) user_data;
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static void parse(config_t * c, const char * arg) {
    memset(c, 0, sizeof *c);
    c->batch = 2048, c->ubatch = 512, c->seq = 1, c->fa = 1, c->threads = 8, c->mmap = -1, c->depth = 128, c->gen = 32, c->poll = -1;
    const char * colon = strchr(arg, ':');
    size_t len = colon ? (size_t) (colon - arg) : strlen(arg);
    snprintf(c->name, sizeof c->name, "%.*s", (int) len, arg);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", colon ? colon + 1 : "");
    for (char * kv = strtok(buf, ","); kv; kv = strtok(NULL, ",")) {
        char * eq = strchr(kv, '=');
        if (!eq) { fprintf(stderr, "bad key=value: %s\n", kv); exit(2); }
        *eq = 0;
        const char * v = eq + 1;
        int n = atoi(v);
        if (!strcmp(kv, "ctx")) c->ctx = n;
        else if (!strcmp(kv, "batch")) c->batch = n;
        else if (!strcmp(kv, "ubatch")) c->ubatch = n;
        else if (!strcmp(kv, "seq")) c->seq = n;
        else if (!strcmp(kv, "unified")) c->unified = n;
        else if (!strcmp(kv, "fa")) c->fa = n;
        else if (!strcmp(kv, "threads")) c->threads = n;
        else if (!strcmp(kv, "mmap")) c->mmap = n;
        else if (!strcmp(kv, "api")) c->decode_api = !strcmp(v, "decode");
        else if (!strcmp(kv, "sample")) c->sample = n;
        else if (!strcmp(kv, "ids")) c->ids_only = n;
        else if (!strcmp(kv, "depth")) c->depth = n;
        else if (!strcmp(kv, "gen")) c->gen = n;
        else if (!strcmp(kv, "poll")) c->poll = n;
        else { fprintf(stderr, "unknown key: %s\n", kv); exit(2); }
    }
    if (c->ctx == 0) c->ctx = c->depth + c->gen;
    if (c->depth < 1 || c->depth > MAX_DEPTH || c->depth > c->batch) {
        fprintf(stderr, "%s: depth must be 1 .. min(%d, batch)\n", c->name, MAX_DEPTH);
        exit(2);
    }
}

// One decode call of `n` tokens of sequence 0 from position `pos`, the last one's logits out: through
// llama_decode and a llama_batch (llmbench), or llama_process and a llama_batch_ext (llama-bench's common_batch).
static void decode(config_t * c, const llama_token * tokens, int n, llama_pos pos) {
    int rc;
    if (c->decode_api) {
        struct llama_batch batch = c->plain;
        for (int i = 0; i < n; i++) {
            batch.token[i] = tokens[i], batch.pos[i] = pos + i, batch.n_seq_id[i] = 1, batch.seq_id[i][0] = 0;
            batch.logits[i] = i == n - 1;
        }
        batch.n_tokens = n;
        rc = llama_decode(c->lctx, batch);
    } else {
        struct llama_batch_ext * batch = c->ext;
        llama_batch_ext_clear(batch);
        for (int i = 0; i < n; i++) {
            llama_pos p = pos + i;
            int idx = llama_batch_ext_add_token(batch, 0, tokens[i]);
            llama_batch_ext_set_pos(batch, idx, &p);
            llama_batch_ext_set_output_logits(batch, idx, i == n - 1);
        }
        rc = llama_process(c->lctx, LLAMA_PROCESS_TYPE_DECODE, batch);
    }
    if (rc) { fprintf(stderr, "%s: decode failed (%d)\n", c->name, rc); exit(1); }
    llama_synchronize(c->lctx);
}

static double one_rep(config_t * c, int n_vocab, unsigned seed) {
    srand(seed);  // each repetition's prompt and random ids are the same in every configuration
    llama_memory_clear(llama_get_memory(c->lctx), false);
    llama_token prompt[MAX_DEPTH];
    for (int i = 0; i < c->depth; i++) prompt[i] = rand() % n_vocab;
    decode(c, prompt, c->depth, 0);
    llama_token token = rand() % n_vocab;
    double started = now_s();
    for (int i = 0; i < c->gen; i++) {
        decode(c, &token, 1, c->depth + i);
        token = c->sample ? llama_sampler_sample(c->chain, c->lctx, -1) : rand() % n_vocab;
        if (c->sample) c->ids_hash = c->ids_hash * 1000003u + (unsigned long) token;
    }
    return c->gen / (now_s() - started);
}

int main(int argc, char ** argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MODEL.gguf REPS NAME:key=value,...\n", argv[0]); return 2; }
    int reps = atoi(argv[2]), n = argc - 3;
    if (n > MAX_CONFIGS) { fprintf(stderr, "at most %d configurations\n", MAX_CONFIGS); return 2; }
    static config_t configs[MAX_CONFIGS];
    llama_log_set(quiet, NULL);
    llama_backend_init();
    for (int i = 0; i < n; i++) {
        config_t * c = &configs[i];
        parse(c, argv[3 + i]);
        for (int j = 0; j < i; j++) if (configs[j].mmap == c->mmap) c->model = configs[j].model;
        if (!c->model) {
            struct llama_model_params mp = llama_model_default_params();
            mp.n_gpu_layers = 99, mp.load_mode = (enum llama_load_mode) c->mmap;
            c->model = llama_model_load_from_file(argv[1], mp);
            if (!c->model) { fprintf(stderr, "%s: model failed to load\n", c->name); return 1; }
        }
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = c->ctx, cp.n_batch = c->batch, cp.n_ubatch = c->ubatch, cp.n_seq_max = c->seq;
        cp.kv_unified = c->unified, cp.n_threads = cp.n_threads_batch = c->threads, cp.swa_full = false;
        cp.flash_attn_type = c->fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
        c->lctx = llama_init_from_model(c->model, cp);
        if (!c->lctx) { fprintf(stderr, "%s: context failed\n", c->name); return 1; }
        if (c->poll >= 0) {  // a threadpool of our own, attached as llama-bench does (its -poll, default 50)
            ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU));
            struct ggml_threadpool * (*pool_new)(struct ggml_threadpool_params *) =
                ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new");
            struct ggml_threadpool_params tpp = ggml_threadpool_params_default(c->threads);
            tpp.poll = c->poll;
            llama_attach_threadpool(c->lctx, pool_new(&tpp), NULL);
        }
        c->plain = llama_batch_init(c->depth, 0, 1);
        c->ext = llama_batch_ext_init(c->lctx);
        static mask_t eos;  // the model's EOS (and end-of-turn) ids
        const struct llama_vocab * vocab = llama_model_get_vocab(c->model);
        eos.n = 0, eos.ids[eos.n++] = llama_vocab_eos(vocab);
        if (llama_vocab_eot(vocab) >= 0 && llama_vocab_eot(vocab) != eos.ids[0]) eos.ids[eos.n++] = llama_vocab_eot(vocab);
        // a chain per sequence, as llmbench's engine attaches one per slot (sequence 0's chooses the ids)
        for (int seq = c->seq - 1; seq >= 0; seq--) {
            c->chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
            if (c->sample == 3) {
                llama_logit_bias bias[8];
                for (int k = 0; k < eos.n; k++) bias[k] = (llama_logit_bias) {eos.ids[k], -INFINITY};
                llama_sampler_chain_add(c->chain, llama_sampler_init_logit_bias(llama_vocab_n_tokens(vocab), eos.n, bias));
            }
            if (c->sample == 4) llama_sampler_chain_add(c->chain, llama_sampler_init(&mask_iface, &eos));
            llama_sampler_chain_add(c->chain, llama_sampler_init_greedy());
            if (c->ids_only) llama_sampler_chain_add(c->chain, llama_sampler_init(&ids_only_iface, NULL));
            if (c->sample >= 2 && !llama_set_sampler(c->lctx, seq, c->chain)) {
                fprintf(stderr, "%s: the sampler chain could not be attached (runs on the host)\n", c->name);
            }
            if (c->sample < 2) break;  // on the host: one chain
        }
    }
    int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(configs[0].model));
    for (int i = 0; i < n; i++) one_rep(&configs[i], n_vocab, 1);  // warm-up, as llama-bench's
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < n; i++) {
            double ts = one_rep(&configs[i], n_vocab, 2 + r);
            configs[i].sum += ts, configs[i].sum2 += ts * ts;
        }
    }
    double base = configs[0].sum / reps;
    printf("tg%d @ d%d, %d repetitions, configurations visited in turn\n", configs[0].gen, configs[0].depth, reps);
    for (int i = 0; i < n; i++) {
        config_t * c = &configs[i];
        double mean = c->sum / reps, var = reps > 1 ? (c->sum2 - reps * mean * mean) / (reps - 1) : 0;
        printf("  %-14s %8.2f ± %5.2f tok/s  %6.1f %% of %s  (%s)", c->name, mean, sqrt(var > 0 ? var : 0),
               100 * mean / base, configs[0].name, argv[3 + i]);
        if (c->sample) printf("  ids %016lx", c->ids_hash);
        printf("\n");
    }
    return 0;
}
