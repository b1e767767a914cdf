"""Sacred experiment scripts (one per paper configuration).

Each script is run directly, e.g.
`python experiments/mnistrotated.py with groupwtacrnn quick`, or as a module
(`python -m experiments.mnistrotated with groupwtacrnn quick`); importing one
(`from experiments import mnistrotated`) gives its Sacred experiment `ex`
without running it. Runs are stored under `results/<script name>/`
(override the root with `$DELTASPARSE_RESULTS`).
"""
