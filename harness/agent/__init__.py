"""One agent run, in four seams and the loop that joins them:

- `model/`: the model seam (litellm calls, provider errors and pauses, prices, token counts, messages as sent);
- `environment/`: the container (docker), its shell and execs, image pulls, the start-state snapshot and the patch;
- `tools/`: the tools the model calls (schemas as data in `tools/`, the dispatcher, the file editor);
- `integrity/`: the scan of a patch and the flags on commands (what could forge a pass);
- here: the loop and its breakers (`loop`, `stuck`, `compaction`), the trajectory, prompts, the run's config,
  the run of one instance (`attempt`) and the replay of a recorded one (`playback`).

`config.py` is the agent run's configuration, the same role as `pipeline/config.py` for a pipeline.

May import only the top-level leaves (`exceptions`, `fileio`, `secrets`, `resources`, ...). `loop` itself
imports neither litellm nor docker: the model and the tool box are handed to it.
"""
