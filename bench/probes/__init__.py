"""Measurements that each run in a fresh interpreter started by bench/run.py.

A probe is `python -m bench.probes.NAME SPEC_JSON OUT_JSON`: it reads its parameters from
SPEC_JSON and writes what it measured to OUT_JSON. stdout is the handlers' (logs, EMF lines);
bench/run.py sends it to /dev/null, as Lambda sends it to CloudWatch.
"""
