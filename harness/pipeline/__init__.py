"""Many agent runs: the pipeline config, the dataset, iterations and their prompts, the run folder with resume,
budget and progress, the images pulled as the runs need them, and the executors that run jobs.

May import `agent` and the leaves; never scoring, analysis, route, select or demo (a routing file is read as data).

`config.py` is the pipeline's configuration, the same role as `agent/config.py` for one run.
`commands.py` holds this stage's `patchmix` sub-commands (`add_parser`), the same role in every stage that has
commands.
"""
