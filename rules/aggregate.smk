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
        runs=run_outputs(),
        code=package_file("agreement.py"),
    output:
        "results/agreement.csv",
    log:
        "logs/check_agreement.log",
    conda:
        "../envs/report.yaml"
    params:
        reference=config["correctness"]["reference"],
    script:
        "../scripts/check_agreement.py"
