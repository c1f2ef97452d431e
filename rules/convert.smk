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


# llama.cpp's GGUF, written with the gguf package from the checkpoint as acquired
# (ChatGLM2 as llama.cpp's chatglm, Llama layouts as llama); no inference here.
rule convert_llamacpp:
    input:
        model="resources/models/{model}/source",
        manifest="resources/models/{model}/manifest.json",
        code=get_code("convert_llamacpp"),
    output:
        "resources/models/{model}/llamacpp-{dtype}.gguf",
    log:
        "logs/convert_llamacpp/{model}-{dtype}.log",
    conda:
        "../envs/llamacpp.yaml"
    script:
        "../scripts/convert_llamacpp.py"
