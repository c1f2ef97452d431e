rule plot_scenario:
    input:
        summary="results/summary.csv",
        code=package_file("plots.py"),
    output:
        report(
            "results/plots/{scenario}.png",
            caption="../report/plot_scenario.rst",
            category="Plots",
            labels={"scenario": "{scenario}"},
        ),
    log:
        "logs/plot_scenario/{scenario}.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/plot_scenario.py"
