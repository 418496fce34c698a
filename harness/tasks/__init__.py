"""The bundled tasks (`tasks/` in the repository, shipped in the wheel) as SWE-bench rows, and the images they
run in: the Debian base, the toolchains of other languages, images in the published SWE-bench layout and in
SWE-bench Pro's (`patchmix build-images`).

May import `scoring`, `pipeline`, `agent` and the leaves (for image names, the eval script's markers and Pro's
row form); never analysis, route, select or demo.

`commands.py` holds this stage's `patchmix` sub-commands (`add_parser`), the same role in every stage that has
commands.
"""
