"""Verdicts: the official SWE-bench harness's steps and grading run from a scratch folder, in patchmix's isolated
containers (or the harness's own), verdicts cached beside the run, the gold check. The only package that imports
swebench.

May import `pipeline`, `agent` and the leaves.

`commands.py` holds this stage's `patchmix` sub-commands (`add_parser`), the same role in every stage that has
commands.
"""
