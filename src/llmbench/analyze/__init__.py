"""From run records to numbers, as rules collect_results, derive_tables and check_agreement do it.

- :mod:`.metrics`     the named metrics and how each is read from a run record;
- :mod:`.summary`     summary.csv (one row per run x level x metric) and its reader;
- :mod:`.tables`      the roofline and resources tables derived from it;
- :mod:`.roofline`    the bandwidth bound of a batch-1 decode rate;
- :mod:`.agreement`   each backend's outputs teacher-forced under the float32 reference.
"""
