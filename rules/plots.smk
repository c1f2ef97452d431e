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


rule plot_model:
    input:
        runs=model_run_outputs,
        code=package_file("plots.py"),
    output:
        latency=report(
            "results/plots/{model}/latency.png",
            caption="../report/plot_latency.rst",
            category="Plots",
            labels={"model": "{model}", "figure": "latency distributions"},
        ),
        memory=report(
            "results/plots/{model}/memory.png",
            caption="../report/plot_memory.rst",
            category="Plots",
            labels={"model": "{model}", "figure": "memory over time"},
        ),
    log:
        "logs/plot_model/{model}.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/plot_model.py"
