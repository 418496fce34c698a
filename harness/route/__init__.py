"""Issues to models: profiles of which models solve which kinds of issue, fitted on scored results and applied
to new instances, with held-out evaluation. Never reads the answer key.

May import `analysis`, `scoring`, `pipeline`, `agent` and the leaves.

`commands.py` holds this stage's `patchmix` sub-commands (`add_parser`), the same role in every stage that has
commands.
"""
