"""Pure functions from stored results to tables, charts, the run report and results from elsewhere.

May import `scoring`, `pipeline`, `agent` and the leaves; nothing here runs an agent or a container.

`commands.py` holds this stage's `patchmix` sub-commands (`add_parser`), the same role in every stage that has
commands.
"""
