"""The environment seam: the container, its shell and execs, the start-state snapshot and the patch.

- `docker_environment`: the `Environment`, one container per run (start, the `bash` tool, files, the patch, close);
- `container_options` (how a container is made), `removal` (docker's failures; containers removed, leftovers too),
  `prepare` (the command sent before the first step), `diskwatch` and `sizes` (the disk allowance);
- `shell` and `execs`: the persistent shell and one-off execs under it;
- `snapshot` (the start state), `vault` (kept out of the agent's reach), `patch` and `binarypatch` (the end);
- `pulls` and `ratelimit`: image pulls and the registry's rate limit.
"""
