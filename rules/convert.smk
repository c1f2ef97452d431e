rule convert_fastllm:
    input:
        model="resources/models/{model}/fastllm-input",
        manifest="resources/models/{model}/manifest.json",
    output:
        "resources/models/{model}/fastllm-{dtype}.flm",
    log:
        "logs/convert_fastllm/{model}-{dtype}.log",
    conda:
        "../envs/fastllm.yaml"
    resources:
        runtime=minutes(config["convert_timeout_s"]),
    script:
        "../scripts/convert_fastllm.py"
