rule acquire_model:
    output:
        model=directory("resources/models/{model}/hf"),
        manifest="resources/models/{model}/manifest.json",
    log:
        "logs/acquire_model/{model}.log",
    conda:
        "../envs/hf.yaml"
    params:
        settings=acquisition_settings,
    script:
        "../scripts/acquire_model.py"
