"""The integrity scan of a patch and the flags on commands: what could forge a pass."""
