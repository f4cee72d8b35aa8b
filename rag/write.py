"""Embed and write one index: the step a build, `rag add` and the evaluation's own indexes share.

`embed_and_write` takes what is to be written (`IndexContent`), embeds passages and answer sentences
through the embedding cache, tokenizes for BM25, and writes the index folder (rag.store.layout) or the
Milvus collections (rag.store.milvus) with a manifest saying how it was made.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rag.config import Config
from rag.embedding import Embedder
from rag.embedding_cache import embed_with_cache, passage_text
from rag.lexical import tokenize_many
from rag.provenance import corpus_record
from rag.store.layout import FORMAT, build_lock, sentence_texts, write_index
from rag.store.manifest import corpus_hash, now_iso, versions
from rag.types import Chunk


@dataclass(frozen=True)
class IndexContent:
    """What a build writes: the chunks (in row order), the source texts they point into, and what the
    manifest records of the corpus."""

    chunks: Sequence[Chunk]
    sources: dict[str, str]
    articles: int
    fingerprint: dict[str, str]  # the corpus folder's own files (manifest "corpus_files": staleness is checked on it)
    added: dict[str, str] = field(default_factory=dict)  # files `rag add` put in (manifest "added")
    added_from: dict[str, str] = field(default_factory=dict)  # where `rag add` read each (absolute paths)


@dataclass(frozen=True)
class Written:
    """What embed_and_write measured."""

    embedded: int  # chunks whose passage needed the embedder (the rest came from the cache)
    stage_seconds: dict[str, float]  # embed, embed_sentences, tokenize, write


def _manifest(config: Config, embedder: Embedder, content: IndexContent) -> dict:
    return {
        "format": FORMAT, "embedder": embedder.name, "embedder_spec": config.embedder, "dim": embedder.dim,
        "chunking": config.chunking(),
        "corpus_path": corpus_record(config.corpus_dir or config.default_corpus, config.index_dir),
        "corpus_hash": corpus_hash(content.fingerprint), "corpus_files": content.fingerprint, "added": content.added,
        "added_from": content.added_from,
        "articles": content.articles, "chunks": len(content.chunks), "sentences": len(sentence_texts(content.chunks)),
        "built_at": now_iso(), "versions": versions(),
    }


@dataclass(frozen=True)
class Embedded:
    """The chunks' passage vectors, answer-sentence vectors and BM25 tokens, in chunk order."""

    vectors: np.ndarray
    sentence_vectors: np.ndarray
    tokens: list[list[str]]
    embedded: int  # chunks whose passage needed the embedder (the rest came from the cache)
    stage_seconds: dict[str, float]  # embed, embed_sentences, tokenize


def embed_chunks(config: Config, embedder: Embedder, chunks: Sequence[Chunk], *,
                 cache: dict[str, np.ndarray] | None = None, progress: bool = False) -> Embedded:
    """Embed the chunks and their answer sentences (reusing vectors in `cache`, which gains the new ones)
    and tokenize them for BM25: what an index holds besides the chunks (a build's and a chat upload's)."""
    cache = {} if cache is None else cache
    stages: dict[str, float] = {}
    started = time.perf_counter()
    texts = [passage_text(chunk) for chunk in chunks]
    bar = _bar(len(texts), "embedding passages", progress)
    vectors, embedded = embed_with_cache(embedder, texts, cache, config.batch_size, bar.update if bar else None)
    if bar:
        bar.close()
    stages["embed"] = time.perf_counter() - started
    # A vector per answer sentence lets the answer step weigh meaning, not only shared words.
    started = time.perf_counter()
    sentences = sentence_texts(chunks)
    bar = _bar(len(sentences), "embedding sentences", progress, unit="sentence")
    sentence_vectors, _ = embed_with_cache(embedder, sentences, cache, config.batch_size, bar.update if bar else None)
    if bar:
        bar.close()
    stages["embed_sentences"] = time.perf_counter() - started
    started = time.perf_counter()
    tokens = tokenize_many(texts)
    stages["tokenize"] = time.perf_counter() - started
    return Embedded(vectors, sentence_vectors, tokens, embedded, stages)


def embed_and_write(config: Config, embedder: Embedder, content: IndexContent, *,
                    cache: dict[str, np.ndarray] | None = None, progress: bool = False) -> Written:
    """Embed the chunks and their answer sentences (reusing vectors in `cache`, which is not changed),
    tokenize the chunks, and write the index to config's store atomically (the caller holds store_lock)."""
    chunks = content.chunks
    done = embed_chunks(config, embedder, chunks, cache=dict(cache or {}), progress=progress)
    stages = dict(done.stage_seconds)
    started = time.perf_counter()
    manifest = _manifest(config, embedder, content)
    if config.store == "milvus":
        from rag.store.milvus import write_collection

        write_collection(config, manifest, chunks, content.sources, done.vectors, done.tokens, done.sentence_vectors)
    else:
        write_index(config.index_dir, manifest, chunks, content.sources, done.vectors, done.tokens,
                    done.sentence_vectors)
    stages["write"] = time.perf_counter() - started
    return Written(done.embedded, stages)


def store_lock(config: Config):
    """One build at a time: the index folder's lock, or the Milvus collection's."""
    if config.store == "milvus":
        from rag.store.milvus import milvus_lock

        return milvus_lock(config)
    return build_lock(config.index_dir)


def _bar(total: int, desc: str, progress: bool, unit: str = "chunk"):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)
