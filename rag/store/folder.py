"""A loaded index folder: the state retrieval and answering read, checked as it is loaded.

`Index.load` reads the manifest (rag.store.manifest), refuses an index built with another embedder, and
checks every file against the manifest and each other, naming the fix for whatever is missing or damaged.
vectors.npy is not read here: it is only the embedding cache of the next build (rag.embedding_cache).
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch
from rag.provenance import rebuild_advice
from rag.store.layout import BM25_DIR, CHUNKS, DENSE, MANIFEST, SENTENCE_ROWS, SENTENCES, SOURCES, read_chunks
from rag.store.manifest import read_manifest
from rag.types import Chunk


@dataclass
class Index:
    """A loaded index: the state retrieval and answering read (chunks, FAISS, BM25, source texts, sentence vectors)."""

    folder: Path
    manifest: dict
    chunks: list[Chunk]
    sources: dict[str, str]
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25
    # Rows: sentence_texts(chunks), memory-mapped (a query reads only its passages' rows; ~3 GB on disk at
    # 1M chunks). None in the synthetic benchmarks.
    sentence_vectors: np.ndarray | None = None
    sentence_rows: np.ndarray | None = None

    @classmethod
    def load(cls, index_dir: Path, embedder_name: str | None = None) -> "Index":
        import bm25s
        import faiss

        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        fix = rebuild_advice(index_dir, manifest, unknown_corpus=True)
        if embedder_name and manifest.get("embedder") != embedder_name:
            spec = manifest.get("embedder_spec") or manifest.get("embedder")
            raise IndexMismatch(
                f"{index_dir / MANIFEST} was built with embedder {manifest.get('embedder')!r}, not {embedder_name!r}: "
                f"ask with --embedder {shlex.quote(str(spec))} (or RAG_EMBEDDER={shlex.quote(str(spec))}), or to re-embed it with {embedder_name!r} "
                + rebuild_advice(index_dir, manifest, embedder=embedder_name, unknown_corpus=True)
            )
        current = None
        try:
            current = index_dir / CHUNKS
            chunks = read_chunks(current)
            current = index_dir / SOURCES
            sources = json.loads(current.read_text(encoding="utf-8"))
            if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
                raise ValueError("expected a JSON object of file name → text")
            missing = {c.source for c in chunks} - set(sources)
            if missing:
                raise ValueError(f"no text for {', '.join(sorted(missing)[:3])}")
            current = index_dir / DENSE
            dense = faiss.read_index(str(current))
            current = index_dir / BM25_DIR
            bm25 = bm25s.BM25.load(str(current))
            current = index_dir / SENTENCES
            sentence_vectors = np.load(current, mmap_mode="r")
            current = index_dir / SENTENCE_ROWS
            rows = np.load(current)
        except Exception as error:  # truncated JSON, corrupt FAISS or BM25 files all get the same fix
            raise IndexCorrupt(f"{current} is damaged ({type(error).__name__}: {error}): {fix}") from None
        if len(chunks) != manifest.get("chunks"):
            raise IndexCorrupt(f"{index_dir / CHUNKS} holds {len(chunks)} chunks, {index_dir / MANIFEST} says "
                               f"{manifest.get('chunks')}: {fix}")
        if dense.ntotal != len(chunks) or dense.d != manifest.get("dim"):
            raise IndexCorrupt(f"{index_dir / DENSE} holds {dense.ntotal} vectors of dimension {dense.d}, expected "
                               f"{len(chunks)} of dimension {manifest.get('dim')} ({index_dir / MANIFEST}): {fix}")
        if (rows.shape != (len(chunks) + 1,) or not np.issubdtype(rows.dtype, np.integer) or rows[0] != 0
                or (np.diff(rows) < 0).any()):
            raise IndexCorrupt(f"{index_dir / SENTENCE_ROWS} does not hold {len(chunks) + 1} row offsets: {fix}")
        if sentence_vectors.ndim != 2 or sentence_vectors.shape != (rows[-1], manifest.get("dim")):
            raise IndexCorrupt(f"{index_dir / SENTENCES} holds an array of shape {sentence_vectors.shape}, expected "
                               f"{rows[-1]} vectors of dimension {manifest.get('dim')}: {fix}")
        return cls(index_dir, manifest, chunks, sources, dense, bm25, sentence_vectors, rows)

    @cached_property
    def article_spans(self) -> dict[tuple[str, int], tuple[int, int]]:
        """(source, article) → the span of the source text from the article's first chunk to its last.

        Worked out on first use (answering needs it, retrieval benchmarks over a million chunks do not).
        """
        spans: dict[tuple[str, int], tuple[int, int]] = {}
        for c in self.chunks:
            key = (c.source, c.article)
            start, end = spans.get(key, (c.start, c.end))
            spans[key] = (min(start, c.start), max(end, c.end))
        return spans

    def article_text(self, chunk: Chunk) -> str:
        """The original text of the whole article a chunk belongs to (from its first to its last chunk)."""
        start, end = self.article_spans.get((chunk.source, chunk.article), (chunk.start, chunk.end))
        return self.sources.get(chunk.source, "")[start:end]

    def sentence_similarity(self, chunk: Chunk, query_vector: np.ndarray) -> np.ndarray | None:
        """Cosine of the query with each answer sentence of the chunk (None if the index has no such vectors)."""
        i = chunk.index_row
        if self.sentence_vectors is None or self.sentence_rows is None or not 0 <= i < len(self.chunks) \
                or self.chunks[i].id != chunk.id:  # a chunk not retrieved from this index
            return None
        rows = self.sentence_vectors[self.sentence_rows[i]:self.sentence_rows[i + 1]]
        return np.asarray(rows, np.float32) @ np.asarray(query_vector, np.float32)

    def original_text(self, chunk: Chunk) -> str:
        """The passage exactly as it stands in the original file."""
        return self.sources.get(chunk.source, "")[chunk.start:chunk.end]

    def dense_search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.chunks))
        scores, ids = self.dense.search(np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def known_tokens(self, tokens: list[str]) -> set[str]:
        """The tokens BM25's vocabulary holds."""
        vocab = self.bm25.vocab_dict
        return {token for token in tokens if token in vocab}

    def lexical_search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        if not tokens:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = np.asarray(self.bm25.get_scores(tokens))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top, scores[top]
