"""The toolchain images of the bundled tasks in languages other than Python: Debian's packages of the language
installed on patchmix's Debian base image (`patchmix/go:bookworm`, `patchmix/rust:bookworm`,
`patchmix/node:bookworm`), each built once, when missing. The Python image is `harness.tasks.baseimages`' own."""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness.tasks.baseimages import BASE_IMAGE, build_from_context, image_exists
from harness.tasks.langspecs import Language


def ensure_toolchain_image(client, language: Language, log=print, base: str = BASE_IMAGE) -> None:
    """Build the language's toolchain image from the Debian base with apt-get, unless it exists."""
    if image_exists(client, language.image):
        log(f"{language.image} exists")
        return
    log(f"building {language.image} (Debian's {language.packages})")
    with tempfile.TemporaryDirectory(prefix="patchmix-toolchain-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(language.make_toolchain_dockerfile(base))
        build_from_context(client, Path(tmp), language.image, nocache=False)
