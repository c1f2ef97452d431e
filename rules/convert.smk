rule convert_fastllm:
    input:
        model="resources/models/{model}/fastllm-input",
        manifest="resources/models/{model}/manifest.json",
        code=get_code("convert_fastllm"),
    output:
        "resources/models/{model}/fastllm-{dtype}.flm",
    log:
        "logs/convert_fastllm/{model}-{dtype}.log",
    wildcard_constraints:
        dtype=_one_of(["float32", "float16", "bfloat16", *formats_of("fastllm")]),
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


# A quantized GGUF: llama.cpp's own quantizer (llama_model_quantize) on the model-dtype GGUF.
rule quantize_llamacpp:
    input:
        gguf="resources/models/{model}/llamacpp-{dtype}.gguf",
        code=get_code("quantize_llamacpp"),
    output:
        "resources/models/{model}/llamacpp-{dtype}-{weights}.gguf",
    log:
        "logs/quantize_llamacpp/{model}-{dtype}-{weights}.log",
    wildcard_constraints:
        weights=_one_of(formats_of("llamacpp")),
    conda:
        "../envs/llamacpp.yaml"
    threads: workflow.cores
    script:
        "../scripts/quantize_llamacpp.py"
