"""patchmix: several LLMs working together on SWE-bench issues."""

import os

# litellm downloads its price table on import unless told to use the bundled copy; this machine (and many CI
# runners) has no route to it, and the bundled table knows the models we ship configs for.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"
