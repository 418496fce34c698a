"""The commands that chain stages: `patchmix run` (the pipeline, then its select stage, with the config loaded
once for both) and `patchmix evaluate` (the scoring, then the picks' verdicts). The stages themselves stay
unaware of each other; only the order in which they run lives here.

May import every stage but demo (and cli), and the leaves. `commands.py` is this stage's sub-commands, the same
role as the `commands.py` of every stage that has commands.
"""
