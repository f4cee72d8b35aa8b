"""Where the index is kept, and which kind a Config names: the FAISS + bm25s index folder (default) or a
Milvus collection.

The folder's modules, one concern each:
  layout    the folder's file names, the build lock, the atomic write and swap, recovery of a killed swap
  manifest  manifest.json: reading and checking it, staleness against the corpus, hashes, versions
  dense     the FAISS index (exact or IVF, by size)
  bm25      the bm25s index over jieba tokens
  folder    `Index`: a loaded folder, with the searches retrieval and answering use
Milvus, the same data in collections behind an alias:
  milvus        collections, build lock, atomic alias switch
  milvus_index  `MilvusIndex`: the methods of `Index`, on Milvus
  milvus_add    `rag add` into the live collections
Imports here are lazy: loading a Milvus index never imports FAISS, a folder never imports pymilvus.
"""
from __future__ import annotations

from pathlib import Path
from typing import Container, Protocol, Sequence

import numpy as np

from rag.config import Config
from rag.types import Chunk


class SearchIndex(Protocol):
    """What retrieval and answering read from a loaded index, whichever store holds it."""
    manifest: dict

    @property
    def folder(self) -> Path | str: ...  # for messages and the status line
    @property
    def chunks(self) -> Sequence[Chunk]: ...  # in index row order
    def dense_search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def lexical_search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def known_tokens(self, tokens: list[str]) -> Container[str]: ...
    def sentence_similarity(self, chunk: Chunk, query_vector: np.ndarray) -> np.ndarray | None: ...
    def original_text(self, chunk: Chunk) -> str: ...
    def article_text(self, chunk: Chunk) -> str: ...


def load_index(config: Config, embedder_name: str | None = None) -> SearchIndex:
    """rag.store.folder.Index or rag.store.milvus_index.MilvusIndex: the same methods for retrieval and answering."""
    if config.store == "milvus":
        from rag.store.milvus_index import MilvusIndex  # pymilvus is imported only when Milvus is chosen

        return MilvusIndex.load(config, embedder_name)
    from rag.store.folder import Index

    return Index.load(config.index_dir, embedder_name)


def index_location(config: Config) -> str:
    """Where the index lives, for messages: the folder or `URI#collection`."""
    return f"{config.milvus_uri}#{config.collection}" if config.store == "milvus" else str(config.index_dir)
