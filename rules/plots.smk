rule plot_scenario:
    input:
        summary="results/summary.csv",
        code=package_file("plots.py"),
    output:
        report(
            "results/plots/{scenario}.png",
            caption="../report/plot_scenario.rst",
            category="Scenarios",
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
        summary="results/summary.csv",
        bandwidth="results/device/bandwidth.json",
        manifest="resources/models/{model}/manifest.json",
        code=[
            package_file("plots.py"),
            package_file("metrics.py"),
            package_file("roofline.py"),
        ],
    output:
        latency=report(
            "results/plots/{model}/latency.png",
            caption="../report/plot_latency.rst",
            category="Latency",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "latency distributions"},
        ),
        memory=report(
            "results/plots/{model}/memory.png",
            caption="../report/plot_memory.rst",
            category="Resources",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "memory over time"},
        ),
        resources=report(
            "results/plots/{model}/resources.png",
            caption="../report/plot_resources.rst",
            category="Resources",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "memory, energy, roofline"},
        ),
    log:
        "logs/plot_model/{model}.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/plot_model.py"
