rule collect_results:
    input:
        runs=run_outputs(),
        code=[package_file("metrics.py"), package_file("stats.py")],
    output:
        "results/summary.csv",
    log:
        "logs/collect_results.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/collect_results.py"


rule check_agreement:
    input:
        model="resources/models/{model}/hf",
        prompts="results/prompts/{model}.json",
        runs=model_run_outputs,
        code=package_file("agreement.py"),
    output:
        "results/agreement/{model}.csv",
    log:
        "logs/check_agreement/{model}.log",
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
