rule convert_fastllm:
    input:
        model="resources/models/{model}/fastllm-input",
        manifest="resources/models/{model}/manifest.json",
        code=get_code("convert_fastllm"),
    output:
        "resources/models/{model}/fastllm-{dtype}.flm",
    log:
        "logs/convert_fastllm/{model}-{dtype}.log",
    conda:
        "../envs/fastllm.yaml"
    resources:
        runtime=slurm_minutes("convert_timeout_s"),
        timeout_s=timeout_seconds("convert_timeout_s"),
    script:
        "../scripts/convert_fastllm.py"
