"""llmbench: is backend B really faster than backend A for my model, and by how much?

The package is grouped by the stage whose rules run it (a reader arrives from a
rule name); imports point down this list and never come back (a test fails on
any cycle):

- :mod:`.report`      render_report, plot_*: tables, sentences, figures, the rendered report;
- :mod:`.analyze`     collect_results, derive_tables, check_agreement: summary.csv, roofline and
                      resources tables, agreement with the float32 reference;
- :mod:`.measure`     run_benchmark, measure_bandwidth: the launcher and its worker,
                      warm-up and the stopping rule, pass runners, the resource sampler, NVML,
                      provenance, the bandwidth probe;
- :mod:`.models`      acquire_model, prepare_*, convert_*, describe_model, tokenize_prompts:
                      synthetic presets, local and hub folders, the one checkpoint reader,
                      the FastLLM and GGUF exports, weight bytes, prompt ids;
- :mod:`.backends`    one module per inference backend behind one interface;
- :mod:`.record`      the typed run record, with one way to write and read it;
- leaves: :mod:`.scenario_types` (the table every stage asks about a scenario type),
  :mod:`.config` (schema validation), :mod:`.codedeps` (the code each rule runs),
  :mod:`.clock`, :mod:`.stats`, :mod:`.io`, :mod:`.logs`, :mod:`.child` (starting a module in a
  child process), :mod:`.publish` (copying a finished run into docs/results).
"""

__version__ = "0.2.0"
