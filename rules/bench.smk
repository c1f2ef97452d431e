# First among the jobs ready after the model is acquired: its overflow check (the model's context,
# a backend's token cap) stops a first run before any conversion or benchmark.
rule tokenize_prompts:
    input:
        model="resources/models/{model}/source",
        prompts=config["prompts"],
        code=get_code("tokenize_prompts"),
    output:
        "results/prompts/{model}.json",
    log:
        "logs/tokenize_prompts/{model}.log",
    priority: 1
    conda:
        "../envs/hf.yaml"
    params:
        chat_template=config["chat_template"],
    script:
        "../scripts/tokenize_prompts.py"


# One fresh process per replica; replicas of every run interleave (get_run_priority).
rule run_benchmark:
    input:
        model="resources/models/{model}/hf",
        manifest="resources/models/{model}/manifest.json",
        artifact=get_backend_artifact,
        prompts=get_run_prompts,
        code=get_code("run_benchmark"),
    output:
        "results/runs/{model}/{runner}/{scenario}/{replica}.json",
    log:
        "logs/run_benchmark/{model}/{runner}/{scenario}/{replica}.log",
    priority: get_run_priority
    conda:
        get_backend_env
    # All cores: nothing else runs beside a benchmark and disturbs its timing.
    threads: workflow.cores
    resources:
        gpu=1,
        runtime=slurm_minutes("timeout_s"),
        timeout_s=timeout_seconds("timeout_s"),
    params:
        scenario=run_setting("scenario"),
        device=run_setting("device"),
        dtype=run_setting("dtype"),
        weights=run_setting("weights"),
        bits_per_weight=run_setting("bits_per_weight"),
        cpu_threads=run_setting("cpu_threads"),
        backend_options=run_setting("backend_options"),
        sample_period_s=run_setting("sample_period_s"),
        cache_dir="resources/compile-cache",
    script:
        "../scripts/run_benchmark.py"


rule measure_bandwidth:
    input:
        code=get_code("measure_bandwidth"),
    output:
        "results/device/bandwidth.json",
    log:
        "logs/measure_bandwidth.log",
    conda:
        "../envs/hf.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
    params:
        device=config["device"],
    script:
        "../scripts/measure_bandwidth.py"
