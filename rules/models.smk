rule acquire_model:
    input:
        code=get_builder_code,
    output:
        model=directory("resources/models/{model}/source"),
        manifest="resources/models/{model}/manifest.json",
    log:
        "logs/acquire_model/{model}.log",
    conda:
        "../envs/hf.yaml"
    params:
        settings=acquisition_settings,
    script:
        "../scripts/acquire_model.py"


# What transformers loads: a mirror of the checkpoint, or a ChatGLM2 checkpoint
# ported to the native GLM architecture (no remote code).
rule prepare_transformers:
    input:
        source="resources/models/{model}/source",
        code=get_code("prepare_transformers"),
    output:
        directory("resources/models/{model}/hf"),
    log:
        "logs/prepare_transformers/{model}.log",
    conda:
        "../envs/hf.yaml"
    script:
        "../scripts/prepare_transformers.py"


# What ftllm loads before conversion: safetensors weights, a tokenizer class it accepts.
rule prepare_fastllm:
    input:
        source="resources/models/{model}/source",
        code=get_code("prepare_fastllm"),
    output:
        directory("resources/models/{model}/fastllm-input"),
    log:
        "logs/prepare_fastllm/{model}.log",
    conda:
        "../envs/hf.yaml"
    script:
        "../scripts/prepare_fastllm.py"


# Bytes of the parameters as loaded in the run dtype, and what one decode step reads.
rule describe_model:
    input:
        model="resources/models/{model}/hf",
        code=get_code("describe_model"),
    output:
        "results/models/{model}.json",
    log:
        "logs/describe_model/{model}.log",
    conda:
        "../envs/hf.yaml"
    params:
        dtype=lambda wildcards: MODELS[wildcards.model]["dtype"],
    script:
        "../scripts/describe_model.py"
