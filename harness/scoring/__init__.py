"""Verdicts: the official SWE-bench harness run from a scratch folder, verdicts cached beside the run, the
gold check. The only package that imports swebench.

May import `pipeline`, `agent` and the leaves.
"""
