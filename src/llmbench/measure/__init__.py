"""Measuring, as rules run_benchmark and measure_bandwidth do it.

- :mod:`.launcher`    a run in a child process that always leaves a record;
- :mod:`.worker`      that child: load, measure, write, exit;
- :mod:`.levels`      warm-up, measured passes, the stopping rule, per concurrency level;
- :mod:`.passes`      the pass runners the scenario-type table names;
- :mod:`.sampler`, :mod:`.nvml`, :mod:`.device`, :mod:`.provenance`: what the machine did and was;
- :mod:`.bandwidth`   the device's copy bandwidth, for the roofline.
"""
