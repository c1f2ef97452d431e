rule plot_scenario:
    input:
        summary="results/summary.csv",
        strings=strings_files(),
        code=get_code("plot_scenario"),
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
    params:
        language=config["report"]["language"],
    script:
        "../scripts/plot_scenario.py"


rule plot_precision:
    input:
        precision="results/tables/precision.csv",
        strings=strings_files(),
        code=get_code("plot_precision"),
    output:
        report(
            "results/plots/precision.png",
            caption="../report/plot_precision.rst",
            category="Resources",
        ),
    log:
        "logs/plot_precision.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/plot_precision.py"


rule plot_model:
    input:
        runs=get_model_runs,
        summary="results/summary.csv",
        roofline="results/tables/roofline.csv",
        resources="results/tables/resources.csv",
        strings=strings_files(),
        code=get_code("plot_model"),
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
    params:
        language=config["report"]["language"],
    script:
        "../scripts/plot_model.py"
