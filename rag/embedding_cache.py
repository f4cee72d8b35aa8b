"""Embedding with a cache, so that a rebuild or `rag add` embeds only the text it has not seen.

Vectors are keyed by text_hash(embedder name + text): the passages (`passage_text`: title and chunk) and the
answer sentences (rag.store.layout.sentence_texts) of an existing index folder seed the cache of the next
build, whatever store that build writes to.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from rag.embedding import Embedder
from rag.store.layout import CHUNKS, MANIFEST, SENTENCE_ROWS, SENTENCES, VECTORS, read_chunks, sentence_rows, sentence_texts
from rag.store.manifest import text_hash
from rag.types import Chunk


def passage_text(chunk: Chunk) -> str:
    """What the embedder sees: the article title gives each passage its context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def cache_key(embedder_name: str, text: str) -> str:
    return text_hash(embedder_name + "\x1f" + text)


def embed_with_cache(
    embedder: Embedder, texts: list[str], cache: dict[str, np.ndarray], batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Embed passages, reusing vectors cached by (model, text hash); returns (vectors, how many were new).

    New vectors are added to `cache`."""
    keys = [cache_key(embedder.name, text) for text in texts]
    first = {key: i for i, key in reversed(list(enumerate(keys)))}  # a repeated text is embedded once
    missing = sorted((i for key, i in first.items() if key not in cache), key=lambda i: len(texts[i]))
    # Batches of similar length waste less padding.
    for start in range(0, len(missing), batch_size):
        batch = missing[start:start + batch_size]
        vectors = embedder.embed_passages([texts[i] for i in batch])
        for i, vector in zip(batch, vectors):
            cache[keys[i]] = vector
        if progress:
            progress(len(batch))
    out = np.zeros((len(texts), embedder.dim), np.float32)
    for row, key in enumerate(keys):
        out[row] = cache[key]
    return out, len(missing)


def cache_from_index(index_dir: Path, embedder_name: str) -> dict[str, np.ndarray]:
    """Vectors of an existing index, keyed like embed_with_cache, when it used the same embedder.

    Any format will do (an older index still saves its passages from the embedder), and damaged sentence
    vectors cost only themselves: whatever is unusable is embedded afresh.
    """
    index_dir = Path(index_dir)
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("embedder") != embedder_name:
            return {}
        vectors = np.load(index_dir / VECTORS).astype(np.float32)
        chunks = read_chunks(index_dir / CHUNKS)
    except Exception:  # no usable previous index: everything is embedded afresh
        return {}
    if vectors.ndim != 2 or len(chunks) != len(vectors):
        return {}
    cache = {cache_key(embedder_name, passage_text(c)): v for c, v in zip(chunks, vectors)}
    try:
        sentence_vectors = np.load(index_dir / SENTENCES, mmap_mode="r")
        rows = np.load(index_dir / SENTENCE_ROWS)
    except Exception:
        return cache
    if (sentence_vectors.ndim != 2 or rows.shape != (len(chunks) + 1,) or rows[-1] != len(sentence_vectors)
            or not np.array_equal(rows, sentence_rows(chunks))):
        return cache  # rows that do not match this splitter's sentences are not reused
    for text, row in zip(sentence_texts(chunks), range(len(sentence_vectors))):
        cache[cache_key(embedder_name, text)] = np.asarray(sentence_vectors[row], np.float32)
    return cache
