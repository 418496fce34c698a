"""Candidates to one patch per instance: signals, rules and a fitted combiner, with held-out evaluation.
Never reads the answer key.

May import `route`, `analysis`, `scoring`, `pipeline`, `agent` and the leaves.

`commands.py` holds this stage's `patchmix` sub-commands (`add_parser`), the same role in every stage that has
commands.
"""
