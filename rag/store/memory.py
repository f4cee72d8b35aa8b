"""An index held in memory only (a chat session's uploads), and a view that searches two indexes as one.

`memory_index` builds a rag.store.folder.Index from chunks embedded by rag.write.embed_chunks, with the
folder's BM25 and an exact dense search in numpy (no FAISS object: a session's state can be copied).
`Joined(shared, extra)` is what retrieval and answering read when a session has uploads: both indexes are
searched, their rankings merged by score (the same embedder, so cosines compare; BM25 scores of the two are
close enough to interleave), and each chunk's texts and sentence vectors are read from the index it came
from. Nothing is ever written to the shared index.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from rag.store import SearchIndex
from rag.store.bm25 import make_bm25
from rag.store.folder import Index
from rag.store.layout import sentence_rows
from rag.types import Chunk, is_uploaded


class _Exact:
    """faiss.IndexFlatIP's search over a few thousand vectors, in numpy."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.ntotal, self.d = self.vectors.shape

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, axis=1), order


def memory_index(chunks: Sequence[Chunk], sources: Mapping[str, str], embedded, manifest: dict) -> Index:
    """An Index over `chunks` (already marked as uploads) from rag.write.embed_chunks's output."""
    return Index(folder="(this session's uploads)", manifest=manifest, chunks=list(chunks), sources=dict(sources),
                 dense=_Exact(embedded.vectors), bm25=make_bm25(embedded.tokens),
                 sentence_vectors=np.asarray(embedded.sentence_vectors, np.float32),
                 sentence_rows=sentence_rows(chunks))


class _Rows(Sequence):
    """shared.chunks followed by extra.chunks, without copying a large shared index."""

    def __init__(self, first: Sequence[Chunk], second: Sequence[Chunk]) -> None:
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, row):
        offset = len(self.first)
        return self.first[row] if row < offset else self.second[row - offset]


@dataclass
class Joined:
    """Two indexes searched as one; rows of `extra` come after those of `shared`."""

    shared: SearchIndex
    extra: SearchIndex

    @property
    def manifest(self) -> dict:
        return self.shared.manifest

    @property
    def folder(self):
        return self.shared.folder

    @property
    def chunks(self) -> Sequence[Chunk]:
        return _Rows(self.shared.chunks, self.extra.chunks)

    def _merge(self, first, second, k: int) -> tuple[np.ndarray, np.ndarray]:
        offset = len(self.shared.chunks)
        ids = np.concatenate([np.asarray(first[0], np.int64), np.asarray(second[0], np.int64) + offset])
        scores = np.concatenate([np.asarray(first[1], np.float32), np.asarray(second[1], np.float32)])
        order = np.argsort(-scores, kind="stable")[:k]
        return ids[order], scores[order]

    def dense_search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._merge(self.shared.dense_search(query_vector, k), self.extra.dense_search(query_vector, k), k)

    def lexical_search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._merge(self.shared.lexical_search(tokens, k), self.extra.lexical_search(tokens, k), k)

    def known_tokens(self, tokens: list[str]) -> set[str]:
        return set(self.shared.known_tokens(tokens)) | set(self.extra.known_tokens(tokens))

    def _owner(self, chunk: Chunk) -> tuple[SearchIndex, Chunk]:
        if not is_uploaded(chunk):
            return self.shared, chunk
        row = chunk.index_row - len(self.shared.chunks) if chunk.index_row >= len(self.shared.chunks) else -1
        return self.extra, replace(chunk, index_row=row)

    def sentence_similarity(self, chunk: Chunk, query_vector: np.ndarray) -> np.ndarray | None:
        index, chunk = self._owner(chunk)
        return index.sentence_similarity(chunk, query_vector)

    def original_text(self, chunk: Chunk) -> str:
        index, chunk = self._owner(chunk)
        return index.original_text(chunk)

    def article_text(self, chunk: Chunk) -> str:
        index, chunk = self._owner(chunk)
        return index.article_text(chunk)


def joined(shared: SearchIndex, extra: SearchIndex | None) -> SearchIndex:
    """`shared` alone, or searched together with a session's `extra` index."""
    return shared if extra is None or not len(extra.chunks) else Joined(shared, extra)
