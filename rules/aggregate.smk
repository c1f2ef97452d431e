rule collect_results:
    input:
        runs=run_outputs(),
        code=get_code("collect_results"),
    output:
        "results/summary.csv",
    log:
        "logs/collect_results.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/collect_results.py"


# Tables read by both the plots and the report, computed once.
rule derive_tables:
    input:
        summary="results/summary.csv",
        runs=run_outputs(),
        bandwidth="results/device/bandwidth.json",
        models=model_paths("results/models/{model}.json").values(),
        code=get_code("derive_tables"),
    output:
        roofline="results/tables/roofline.csv",
        resources="results/tables/resources.csv",
    log:
        "logs/derive_tables.log",
    conda:
        "../envs/report.yaml"
    params:
        models=model_paths("results/models/{model}.json"),
    script:
        "../scripts/derive_tables.py"


# Per backend with quantized runs: its floor and each quantized run, speed, memory, quality.
rule derive_precision:
    input:
        summary="results/summary.csv",
        runs=run_outputs(),
        agreement=model_paths("results/agreement/{model}.csv").values(),
        code=get_code("derive_precision"),
    output:
        "results/tables/precision.csv",
    log:
        "logs/derive_precision.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/derive_precision.py"


# The reference model teacher-forces every output of every run: after all runs.
rule check_agreement:
    input:
        model="resources/models/{model}/hf",
        prompts="results/prompts/{model}.json",
        runs=get_model_runs,
        code=get_code("check_agreement"),
    output:
        "results/agreement/{model}.csv",
    log:
        "logs/check_agreement/{model}.log",
    priority: -(10**9)
    conda:
        "../envs/hf.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
    params:
        reference=config["correctness"]["reference"],
        dtype=config["correctness"]["reference_dtype"],
        device=config["device"],
    script:
        "../scripts/check_agreement.py"
