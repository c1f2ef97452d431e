from snakemake.utils import min_version

min_version("9.0")


# The default config only when the command names none: `--configfile X` means "run X" (merged
# under X, config/config.yaml would give a GPU config the default's tiny model and scenarios).
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/convert.smk"
include: "rules/bench.smk"
include: "rules/aggregate.smk"
include: "rules/plots.smk"
include: "rules/report.smk"


onstart:
    stamp_results()


onsuccess:
    say_outcome()


onerror:
    say_outcome()


rule all:
    default_target: True
    input:
        final_outputs(),
