"""A loaded Milvus index with the methods of rag.store.folder.Index that retrieval and answering use.

Chunks come back with the searches (payload field) and are cached by row; the sentence vectors of the
chunks a question retrieved are fetched in one query; the alias is re-read at most once a second, so a
rebuild (which switches it) is picked up by running readers.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.store.milvus import FORMAT, connect, guard, literal, read_manifest, target
from rag.types import Chunk

CACHE_LIMIT = 20_000  # chunks (and sentence vector sets) kept in memory


class LazyChunks(Sequence):
    """index.chunks for a Milvus index: len() and [row], fetched on demand and cached."""

    def __init__(self, index: "MilvusIndex") -> None:
        self._index = index

    def __len__(self) -> int:
        return int(self._index.manifest.get("chunks", 0))

    def __getitem__(self, row):
        return self._index.chunk(int(row))


@dataclass
class MilvusIndex:
    config: object
    client: object
    base: str  # the collection set the alias pointed at when last read
    manifest: dict
    checked: float = 0.0
    _chunks: dict = field(default_factory=dict)
    _spans: dict = field(default_factory=dict)
    _sentences: dict = field(default_factory=dict)
    _recent: list = field(default_factory=list)

    @property
    def folder(self) -> str:
        return f"{self.config.milvus_uri}#{self.config.collection}"

    @property
    def chunks(self) -> LazyChunks:
        return LazyChunks(self)

    @classmethod
    def load(cls, config, embedder_name: str | None = None) -> "MilvusIndex":
        client = connect(config.milvus_uri)
        base, manifest = guard(config.milvus_uri, f"read collection {config.collection}",
                               lambda: _open(client, config, embedder_name))
        return cls(config, client, base, manifest, time.monotonic())

    def _call(self, action: str, call):
        return guard(self.config.milvus_uri, action, call)

    def _refresh(self) -> None:
        """Follow the alias to a rebuilt collection set (checked at most once a second)."""
        now = time.monotonic()
        if now - self.checked < 1.0:
            return
        self.checked = now
        base = self._call("read its alias", lambda: target(self.client, self.config.collection))
        if base and base != self.base:
            self.base, self.manifest = self._call("load the rebuilt collection",
                                                  lambda: _open(self.client, self.config, self.manifest.get("embedder")))
            self._chunks.clear(), self._spans.clear(), self._sentences.clear()

    def _remember(self, hits) -> None:
        if len(self._chunks) > CACHE_LIMIT:
            self._chunks.clear(), self._spans.clear(), self._sentences.clear()
        self._recent = []
        for hit in hits:
            row = int(hit["row"] if "row" in hit else hit["id"])
            payload = (hit.get("entity") or hit).get("payload")
            if payload is not None and row not in self._chunks:
                self._chunks[row] = Chunk.from_dict(payload)
                self._spans[row] = (payload.get("original", ""), tuple(payload.get("article_span", (0, 0))))
            self._recent.append(row)

    def chunk(self, row: int) -> Chunk:
        if row not in self._chunks:
            found = self._call("fetch a chunk", lambda: self.client.query(
                self.base, filter=f"row == {int(row)}", output_fields=["row", "payload"]))
            if not found:
                raise IndexError(f"no chunk {row} in {self.folder}")
            self._remember(found)
        return self._chunks[row]

    def dense_search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self._refresh()
        dense = self.manifest.get("dense_index", {})
        hits = self._call("search", lambda: self.client.search(
            self.base, data=[np.asarray(query_vector, np.float32).tolist()], anns_field="vector", limit=max(1, k),
            output_fields=["payload"], search_params={"metric_type": "IP", "params": dense.get("search", {})}))[0]
        self._remember(hits)
        return np.array([int(h["row"]) for h in hits], np.int64), np.array([h["distance"] for h in hits], np.float32)

    def lexical_search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """BM25 in Milvus (its jieba analyzer) over the question's jieba tokens."""
        if not tokens:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self._refresh()
        # Milvus's analyzer re-splits each token in search mode (胶州市 → 胶州, 州市, 胶州市): send only the tokens
        # that are no part of another, or the parts would count twice.
        query = " ".join(t for t in dict.fromkeys(tokens) if not any(t != o and t in o for o in tokens))
        hits = self._call("search", lambda: self.client.search(
            self.base, data=[query], anns_field="sparse", limit=max(1, k), output_fields=["payload"],
            search_params={"metric_type": "BM25"}))[0]
        self._remember(hits)
        # Milvus Lite reports BM25 as a negative distance, a server as a positive score: the order is best first.
        return np.array([int(h["row"]) for h in hits], np.int64), np.array([abs(h["distance"]) for h in hits], np.float32)

    def known_tokens(self, tokens: list[str]) -> set[str]:
        """The tokens that occur in the corpus (retrieval's lexical weight)."""
        found = self._call("read the vocabulary", lambda: self.client.query(
            f"{self.base}_vocab", filter=f"token in {literal(sorted(set(tokens)))}", output_fields=["token"]))
        return {row["token"] for row in found}

    def sentence_similarity(self, chunk: Chunk, query_vector: np.ndarray) -> np.ndarray | None:
        row = chunk.index_row
        if row < 0 or self._chunks.get(row) is None or self._chunks[row].id != chunk.id:
            return None  # a chunk not retrieved from this index
        if row not in self._sentences:
            wanted = sorted({r for r in self._recent + [row] if r not in self._sentences})
            found = self._call("fetch sentence vectors", lambda: self.client.query(
                f"{self.base}_sent", filter=f"chunk_row in {wanted}", output_fields=["sid", "chunk_row", "vector"]))
            grouped: dict[int, list] = {r: [] for r in wanted}
            for hit in found:
                grouped[int(hit["chunk_row"])].append((int(hit["sid"]), hit["vector"]))
            for r, rows in grouped.items():
                self._sentences[r] = np.array([v for _, v in sorted(rows)], np.float32).reshape(len(rows), -1)
        return self._sentences[row] @ np.asarray(query_vector, np.float32) if len(self._sentences[row]) else None

    def original_text(self, chunk: Chunk) -> str:
        if chunk.index_row in self._spans and self._chunks[chunk.index_row].id == chunk.id:
            return self._spans[chunk.index_row][0]
        return self._source_slice(chunk.source, chunk.start, chunk.end)

    def article_text(self, chunk: Chunk) -> str:
        span = self._spans.get(chunk.index_row, ("", (chunk.start, chunk.end)))[1]
        return self._source_slice(chunk.source, *span)

    def _source_slice(self, source: str, start: int, end: int) -> str:
        from rag.store.milvus import TEXT_PART

        first, last = start // TEXT_PART, max(start, end - 1) // TEXT_PART
        parts = self._call("fetch a source text", lambda: self.client.query(
            f"{self.base}_text", filter=f"source == {literal(source)} and part >= {first} and part <= {last}",
            output_fields=["part", "text"]))
        text = "".join(p["text"] for p in sorted(parts, key=lambda p: p["part"]))
        return text[start - first * TEXT_PART:end - first * TEXT_PART]


def _open(client, config, embedder_name: str | None) -> tuple[str, dict]:
    """(collection set, manifest) behind the alias, loaded and checked."""
    from rag.store.milvus import SUFFIXES

    alias, where = config.collection, f"{config.collection} at {config.milvus_uri}"
    build = (f"run `python -m rag build --store milvus --milvus-uri {config.milvus_uri} --collection {alias}"
             f" --embedder {config.embedder}`")
    base = target(client, alias)
    if base is None:
        raise IndexNotFound(f"no index {where} (no alias {alias!r}): {build}")
    for suffix in SUFFIXES:
        client.load_collection(f"{base}{suffix}")
    try:
        manifest = read_manifest(client, base)
    except ValueError as error:
        raise IndexCorrupt(f"the manifest of {where} is unreadable ({error}): {build}") from None
    if manifest is None:
        raise IndexCorrupt(f"{where} has no manifest: {build}")
    if manifest.get("milvus_format") != FORMAT:
        raise IndexMismatch(f"{where} has format {manifest.get('milvus_format')!r}, this version reads {FORMAT}: {build}")
    if embedder_name and manifest.get("embedder") != embedder_name:
        raise IndexMismatch(f"{where} was built with embedder {manifest.get('embedder')!r}, not {embedder_name!r}: "
                            f"{build}, or choose the index's embedder")
    count = int(client.get_collection_stats(base).get("row_count", -1))
    fields = {f["name"]: f for f in client.describe_collection(base)["fields"]}
    dim = (fields.get("vector", {}).get("params") or {}).get("dim")
    if count != manifest.get("chunks") or int(dim or -1) != manifest.get("dim"):
        raise IndexCorrupt(f"{where} holds {count} chunks of dimension {dim}, its manifest says {manifest.get('chunks')} "
                           f"of dimension {manifest.get('dim')}: {build}")
    return base, manifest
