# Only with fail_on_failed_runs: a failed or invalid run fails the workflow, on every command
# (its output is temporary, so it runs even where nothing else is left to do: onsuccess would not).
rule judge_outcome:
    input:
        report="results/report.html",
        runs=run_outputs(),
        code=get_code("judge_outcome"),
    output:
        temp("results/outcome-judged.txt"),
    log:
        "logs/judge_outcome.log",
    conda:
        "../envs/report.yaml"
    # said as the job starts (Snakemake's error block shows "message: None"), before the verdict
    message:
        "fail_on_failed_runs: a failed or invalid benchmark run ends the workflow with an error; "
        "the verdict comes first on the console and in {log}"
    script:
        "../scripts/judge_outcome.py"


rule render_report:
    input:
        summary="results/summary.csv",
        agreement=model_paths("results/agreement/{model}.csv").values(),
        roofline="results/tables/roofline.csv",
        resources="results/tables/resources.csv",
        precision=precision_outputs(),
        reference=reference_summary(),
        article=article_file(),
        bandwidth="results/device/bandwidth.json",
        runs=run_outputs(),
        manifests=model_paths("resources/models/{model}/manifest.json").values(),
        prompts=model_paths("results/prompts/{model}.json").values(),
        models=model_paths("results/models/{model}.json").values(),
        plots=plot_outputs(),
        strings=strings_files(),
        templates=[
            workflow_file("report/templates/report.md.j2"),
            workflow_file("report/templates/report.html.j2"),
        ],
        code=get_code("render_report"),
    output:
        md="results/report.md",
        html=report(
            "results/report.html",
            caption="../report/report_html.rst",
            category="Report",
        ),
    log:
        "logs/render_report.log",
    conda:
        "../envs/report.yaml"
    params:
        settings=canonical(config["report"]),
        correctness=canonical(config["correctness"]),
        # a list: the config's order is the report's
        scenarios=[[name, canonical(s)] for name, s in config["scenarios"].items()],
        manifests=model_paths("resources/models/{model}/manifest.json"),
        prompts=model_paths("results/prompts/{model}.json"),
        models=model_paths("results/models/{model}.json"),
        reproduce=reproduce_command(
            workflow.cores, CONFIG_FILES, workflow.config_settings.config_args
        ),
    script:
        "../scripts/render_report.py"
