rule acquire_model:
    input:
        code=builder_code,
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
        "resources/models/{model}/source",
        code=PREPARE_CODE,
    output:
        directory("resources/models/{model}/hf"),
    log:
        "logs/prepare_transformers/{model}.log",
    conda:
        "../envs/hf.yaml"
    script:
        "../scripts/prepare_model.py"


# What ftllm loads before conversion: safetensors weights, a tokenizer class it accepts.
rule prepare_fastllm:
    input:
        "resources/models/{model}/source",
        code=PREPARE_CODE,
    output:
        directory("resources/models/{model}/fastllm-input"),
    log:
        "logs/prepare_fastllm/{model}.log",
    conda:
        "../envs/hf.yaml"
    script:
        "../scripts/prepare_model.py"
