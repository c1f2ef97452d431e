rule tokenize_prompts:
    input:
        model="resources/models/{model}/source",
        prompts=config["prompts"],
    output:
        "results/prompts/{model}.json",
    log:
        "logs/tokenize_prompts/{model}.log",
    conda:
        "../envs/hf.yaml"
    params:
        chat_template=config["chat_template"],
    script:
        "../scripts/tokenize_prompts.py"


rule run_benchmark:
    input:
        model="resources/models/{model}/hf",
        manifest="resources/models/{model}/manifest.json",
        artifact=backend_artifact,
        prompts="results/prompts/{model}.json",
        code=benchmark_code,
    output:
        "results/runs/{model}/{backend}/{scenario}.json",
    log:
        "logs/run_benchmark/{model}/{backend}/{scenario}.log",
    conda:
        "../envs/{backend}.yaml"
    # All cores: nothing else runs beside a benchmark and disturbs its timing.
    threads: workflow.cores
    resources:
        gpu=1,
        runtime=minutes(config["timeout_s"]),
    params:
        settings=run_settings,
    script:
        "../scripts/run_benchmark.py"


rule measure_bandwidth:
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
