"""The environment seam: the container, its shell and execs, the start-state snapshot and the patch."""
