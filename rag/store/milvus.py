"""The index in Milvus: the same data as the index folder, in five collections behind one alias.

`URI` is a local path ending in .db (Milvus Lite, in process: tests and single machines) or
http://host:19530 (a Milvus standalone or cluster); the pymilvus client code is the same for both.

A build writes a fresh set of collections named `<alias>__v<millis>` (+ `_sent`, `_text`, `_vocab`,
`_meta`), the manifest last, then points the alias at the new chunk collection and drops the old set:
readers never see a half-built index, and a killed build leaves the old one serving (its unaliased
leftovers are dropped by the next build).

  chunks   row (pk, as the FAISS row), vector (e5), lexical (normalised passage, jieba analyzer) →
           sparse (Milvus BM25 function), source, payload (JSON: the Chunk, its original text, article span)
  _sent    one e5 vector per answer sentence: sid = row·4096 + j, chunk_row
  _text    the source texts in parts of TEXT_PART characters (article_text)
  _vocab   the jieba tokens of the corpus (how much of a question the corpus knows: retrieval's lexical weight)
  _meta    the manifest (JSON, in parts)
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.chunking import answer_sentences
from rag.embedding_cache import passage_text
from rag.errors import RagError
from rag.lexical import STOPWORDS, jieba_ready, normalise
from rag.store.dense import EXACT_SEARCH_LIMIT, IVF_NPROBE, ivf_nlist
from rag.types import Chunk

FORMAT = 1
CONNECT_TIMEOUT_S = 5.0
TEXT_PART = 16_000  # characters per stored piece of a source text (≤ 48 kB of UTF-8: under VARCHAR's 65,535)
META_PART = 20_000
BATCH = 1_000
SENTENCE_SLOTS = 4096  # sid = row * SENTENCE_SLOTS + sentence number
SUFFIXES = ("", "_sent", "_text", "_vocab", "_meta")
# Milvus's jieba analyzer keeps punctuation tokens; our BM25 drops them (rag.lexical.tokenize).
PUNCTUATION = frozenset("，。、；：？！“”‘’（）《》【】—…·,.;:?!\"'()[]<>-/%")
ANALYZER = {"tokenizer": {"type": "jieba", "mode": "search"},
            "filter": [{"type": "stop", "stop_words": sorted(STOPWORDS | PUNCTUATION)}]}
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, which the FAISS path uses
DUMMY = ("v", "FLOAT_VECTOR", {"dim": 2})  # Milvus wants a vector field in every collection
DUMMY_INDEX = ("v", "FLAT", "L2", {})


class MilvusUnavailable(RagError):
    """Milvus cannot be reached, or failed a request."""


def literal(value) -> str:
    """A string or list of strings as a Milvus filter literal."""
    return json.dumps(value, ensure_ascii=False)


def _reason(error: Exception) -> str:
    return getattr(error, "message", None) or str(error) or type(error).__name__


def connect(uri: str, timeout: float = CONNECT_TIMEOUT_S):
    """A MilvusClient for `uri`, or MilvusUnavailable naming the URI (within `timeout` seconds)."""
    jieba_ready()  # Milvus Lite's analyzer shares jieba: load it quietly first
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MilvusUnavailable("the milvus store needs pymilvus and milvus-lite: pip install pymilvus milvus-lite") from None
    # pymilvus logs every failed RPC with a traceback (its import configures the level, so set it after);
    # Milvus Lite's in-process gRPC server logs the calls it does not implement.
    for name in ("pymilvus", "pymilvus.milvus_client", "grpc._server"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if uri.endswith(".db"):
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, timeout=timeout)
    except Exception as error:
        raise MilvusUnavailable(f"cannot reach Milvus at {uri} ({_reason(error)}): start Milvus there, or point "
                                f"--milvus-uri / RAG_MILVUS_URI at a running one (a .db path runs Milvus Lite)") from None


def guard(uri: str, action: str, call):
    """call(), with any Milvus failure turned into MilvusUnavailable naming the URI."""
    try:
        return call()
    except RagError:
        raise
    except Exception as error:
        raise MilvusUnavailable(f"Milvus at {uri} failed to {action} ({_reason(error)}): check that it is running "
                                f"and reachable") from None


def vector_index(count: int) -> dict:
    """The dense index for `count` chunks: exact search while it is fast enough, IVF beyond (as rag.store.dense)."""
    if count <= EXACT_SEARCH_LIMIT:
        return {"type": "FLAT", "build": {}, "search": {}}
    nlist = ivf_nlist(count)  # FLAT up to EXACT_SEARCH_LIMIT, IVF_FLAT beyond, as the folder index
    return {"type": "IVF_FLAT", "build": {"nlist": nlist}, "search": {"nprobe": min(nlist, max(IVF_NPROBE, nlist // 128))}}


def _create(client, name: str, fields, indexes, bm25: tuple[str, str] | None = None) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    for field, dtype, kwargs in fields:
        schema.add_field(field, getattr(DataType, dtype), **kwargs)
    if bm25:
        schema.add_function(Function(name=f"{bm25[0]}_bm25", function_type=FunctionType.BM25,
                                     input_field_names=[bm25[0]], output_field_names=[bm25[1]]))
    params = client.prepare_index_params()
    for field, kind, metric, extra in indexes:
        params.add_index(field, index_type=kind, metric_type=metric, params=extra)
    client.create_collection(name, schema=schema, consistency_level="Strong")
    # sync=False: pymilvus's wait for the index asks AllocTimestamp, which Milvus Lite lacks (it would retry for seconds)
    client.create_index(name, params, sync=False)
    client.load_collection(name)


def create_collections(client, base: str, dim: int, dense: dict) -> None:
    _create(client, base, [
        ("row", "INT64", {"is_primary": True}), ("vector", "FLOAT_VECTOR", {"dim": dim}),
        ("lexical", "VARCHAR", {"max_length": 65535, "enable_analyzer": True, "analyzer_params": ANALYZER}),
        ("sparse", "SPARSE_FLOAT_VECTOR", {}), ("source", "VARCHAR", {"max_length": 1024}), ("payload", "JSON", {}),
    ], [("vector", dense["type"], "IP", dense["build"]), ("sparse", "SPARSE_INVERTED_INDEX", "BM25", BM25_PARAMS)],
        bm25=("lexical", "sparse"))
    _create(client, f"{base}_sent", [("sid", "INT64", {"is_primary": True}), ("chunk_row", "INT64", {}),
                                     ("source", "VARCHAR", {"max_length": 1024}), ("vector", "FLOAT_VECTOR", {"dim": dim})],
            [("vector", "FLAT", "IP", {})])
    _create(client, f"{base}_text", [("key", "VARCHAR", {"is_primary": True, "max_length": 1100}),
                                     ("source", "VARCHAR", {"max_length": 1024}), ("part", "INT64", {}),
                                     ("text", "VARCHAR", {"max_length": 65535}), DUMMY], [DUMMY_INDEX])
    _create(client, f"{base}_vocab", [("token", "VARCHAR", {"is_primary": True, "max_length": 512}), DUMMY], [DUMMY_INDEX])
    _create(client, f"{base}_meta", [("key", "VARCHAR", {"is_primary": True, "max_length": 64}),
                                     ("value", "VARCHAR", {"max_length": 65535}), DUMMY], [DUMMY_INDEX])


def article_spans(chunks: Sequence[Chunk]) -> dict[tuple[str, int], tuple[int, int]]:
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for c in chunks:
        start, end = spans.get((c.source, c.article), (c.start, c.end))
        spans[(c.source, c.article)] = (min(start, c.start), max(end, c.end))
    return spans


def insert_rows(client, base: str, chunks: Sequence[Chunk], rows: Sequence[int], sources: dict[str, str],
                vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
    """Insert chunks (with their sentence vectors, in chunk order) under the given row numbers, and their sources' texts."""
    spans = article_spans(chunks)
    sentence_at = 0
    for begin in range(0, len(chunks), BATCH):
        batch, sentence_batch = [], []
        for i in range(begin, min(begin + BATCH, len(chunks))):
            chunk, row = chunks[i], int(rows[i])
            payload = {**chunk.to_dict(), "original": sources.get(chunk.source, "")[chunk.start:chunk.end],
                       "article_span": list(spans[(chunk.source, chunk.article)])}
            batch.append({"row": row, "vector": vectors[i].tolist(), "lexical": normalise(passage_text(chunk))[:20000],
                          "source": chunk.source, "payload": payload})
            for j in range(len(answer_sentences(chunk.text))):
                sentence_batch.append({"sid": row * SENTENCE_SLOTS + j, "chunk_row": row, "source": chunk.source,
                                       "vector": np.asarray(sentence_vectors[sentence_at], np.float32).tolist()})
                sentence_at += 1
        client.insert(base, batch)
        if sentence_batch:
            client.insert(f"{base}_sent", sentence_batch)
    texts = [{"key": f"{part:06d}:{name}", "source": name, "part": part, "text": text[at:at + TEXT_PART], "v": [0.0, 0.0]}
             for name, text in sources.items() for part, at in enumerate(range(0, max(len(text), 1), TEXT_PART))]
    for begin in range(0, len(texts), 200):
        client.insert(f"{base}_text", texts[begin:begin + 200])


def insert_vocabulary(client, base: str, tokens) -> None:
    rows = [{"token": t, "v": [0.0, 0.0]} for t in sorted(set(tokens)) if 0 < len(t.encode("utf-8")) <= 512]
    for begin in range(0, len(rows), 5 * BATCH):
        client.upsert(f"{base}_vocab", rows[begin:begin + 5 * BATCH])


def write_manifest(client, base: str, manifest: dict) -> None:
    text = json.dumps(manifest, ensure_ascii=False)
    parts = [text[at:at + META_PART] for at in range(0, len(text), META_PART)]
    old = client.query(f"{base}_meta", filter='key like "manifest:%"', output_fields=["key"])
    keys = {f"manifest:{i:04d}" for i in range(len(parts))}
    client.upsert(f"{base}_meta", [{"key": f"manifest:{i:04d}", "value": part, "v": [0.0, 0.0]} for i, part in enumerate(parts)])
    stale = [row["key"] for row in old if row["key"] not in keys]
    if stale:
        client.delete(f"{base}_meta", filter=f"key in {literal(stale)}")


def read_manifest(client, base: str) -> dict | None:
    rows = client.query(f"{base}_meta", filter='key like "manifest:%"', output_fields=["key", "value"])
    if not rows:
        return None
    return json.loads("".join(row["value"] for row in sorted(rows, key=lambda r: r["key"])))


def target(client, alias: str) -> str | None:
    """The chunk collection the alias points at (None: no alias of that name)."""
    try:
        return client.describe_alias(alias).get("collection_name") or None
    except Exception:
        return None


def drop_set(client, base: str) -> None:
    for suffix in SUFFIXES:
        if client.has_collection(f"{base}{suffix}"):
            client.drop_collection(f"{base}{suffix}")


def drop_leftovers(client, alias: str, keep: str | None) -> None:
    """Collections of builds that were killed before switching the alias (the caller holds the build lock)."""
    bases = {name for name in client.list_collections() if name.startswith(f"{alias}__v")
             and name[len(alias) + 3:].isdigit()}
    for base in bases - {keep}:
        drop_set(client, base)


def write_collection(config, manifest: dict, chunks: Sequence[Chunk], sources: dict[str, str], vectors: np.ndarray,
                     token_lists: list[list[str]], sentence_vectors: np.ndarray) -> None:
    """Write a new collection set, then switch the alias to it (the caller holds milvus_lock)."""
    uri, alias = config.milvus_uri, config.collection
    client = connect(uri)

    def write() -> None:
        previous = target(client, alias)
        if previous is None and client.has_collection(alias):
            raise MilvusUnavailable(f"Milvus at {uri} has a collection named {alias!r} that is not this index's alias: "
                                    f"choose another --collection, or drop it")
        drop_leftovers(client, alias, previous)
        base = f"{alias}__v{int(time.time() * 1000)}"
        dense = vector_index(len(chunks))
        create_collections(client, base, vectors.shape[1] if vectors.ndim == 2 else manifest["dim"], dense)
        insert_rows(client, base, chunks, range(len(chunks)), sources, vectors, sentence_vectors)
        insert_vocabulary(client, base, (t for tokens in token_lists for t in tokens))
        write_manifest(client, base, {**manifest, "store": "milvus", "milvus_format": FORMAT, "dense_index": dense,
                                      "next_row": len(chunks)})
        client.flush(base)
        if previous is None:
            client.create_alias(base, alias)
        else:
            client.alter_alias(base, alias)
            drop_set(client, previous)

    guard(uri, f"write collection {alias}", write)


def milvus_lock(config):
    """The build lock of rag.store.layout, on a local file named after the URI and alias (one build at a time from this
    machine; builds against a shared cluster must be run from one place)."""
    import hashlib
    import tempfile

    from rag.store.layout import build_lock

    uri = config.milvus_uri
    if uri.endswith(".db"):
        return build_lock(Path(uri).expanduser().parent / f"{Path(uri).name}.{config.collection}")
    digest = hashlib.sha1(uri.encode()).hexdigest()[:12]
    return build_lock(Path(tempfile.gettempdir()) / f"rag-milvus-{digest}.{config.collection}")
