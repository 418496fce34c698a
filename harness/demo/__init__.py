"""The key-free demo command: the scripted models' behaviour on the bundled tasks, and `patchmix demo`, which runs
the pipeline with them against the scripted provider (`harness.scripted`) on the bundled tasks' images
(`harness.tasks`).

May import every stage; only `cli` imports it (tests and benchmarks use it too).

`commands.py` holds this stage's `patchmix` sub-commands (`add_parser`), the same role in every stage that has
commands.
"""
