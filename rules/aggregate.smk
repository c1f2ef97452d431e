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
