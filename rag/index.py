"""The index on disk: FAISS vectors, BM25 over jieba tokens, the chunks, the source texts, a vector per
answer sentence (for choosing the answer) and a manifest.

The folder is self-describing: manifest.json records the embedder and dimension, chunking settings,
a hash of every corpus file and the library versions; `Index.load` checks them and names the fix.
A build writes to a temporary sibling folder and swaps it in at the end, under a lock, so an
interrupted build leaves the previous index intact and two builds never mix.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rag import __version__
from rag.chunking import answer_sentences
from rag.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexNotFound
from rag.provenance import rebuild_advice
from rag.types import Chunk

FORMAT = 2  # 2: a vector per answer sentence (sentences.npy)
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
SOURCES = "sources.json"
VECTORS = "vectors.npy"
SENTENCES = "sentences.npy"  # one e5 vector per answer sentence of each chunk, in chunk order
SENTENCE_ROWS = "sentence_rows.npy"  # chunk i owns rows [r[i], r[i+1]) of sentences.npy
DENSE = "dense.faiss"
BM25_DIR = "bm25"
# Up to this many chunks FAISS searches exhaustively. Measured (docs/bench.md, 2 busy shared cores): a flat
# query takes p50 23 ms at 100k chunks and 112 ms at 1M, so exact search stops at 100k (50 ms budget).
EXACT_SEARCH_LIMIT = 100_000
# Inverted lists scanned per query (at least; nlist/128 for bigger indexes). At 1M chunks (IVF4096) recall@10
# against exact search for the real seed questions is 0.938 / 0.975 / 0.988 at nprobe 32 / 64 / 128, for
# synthetic queries 0.998 / 1.0 / 1.0; nprobe 128 costs p50 1.1 ms (docs/bench.md).
IVF_NPROBE = 128


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def corpus_hash(fingerprint: dict[str, str]) -> str:
    return text_hash(json.dumps(fingerprint, sort_keys=True))


def passage_text(chunk: Chunk) -> str:
    """What the embedder sees: the article title gives each passage its context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def sentence_texts(chunks: Sequence[Chunk]) -> list[str]:
    """The answer sentences of every chunk, in chunk order: the rows of sentences.npy."""
    return [chunk.text[start:end] for chunk in chunks for start, end in answer_sentences(chunk.text)]


def sentence_rows(chunks: Sequence[Chunk]) -> np.ndarray:
    """Row offsets into sentences.npy: chunk i owns rows [r[i], r[i+1])."""
    return np.concatenate([[0], np.cumsum([len(answer_sentences(c.text)) for c in chunks])]).astype(np.int64)


def versions() -> dict[str, str]:
    import bm25s
    import faiss

    return {"rag": __version__, "faiss": faiss.__version__, "bm25s": bm25s.__version__,
            "python": sys.version.split()[0]}


def ivf_nlist(count: int) -> int:
    """Inverted lists for an IVF index of `count` vectors: about 4·sqrt(n) (a power of two), at least 39
    training points each."""
    nlist = 1 << int(round(np.log2(max(4 * np.sqrt(count), 64))))
    return max(1, min(nlist, count // 39))


def read_chunks(path: Path) -> list[Chunk]:
    """The chunks of an index's chunks.jsonl, one JSON object a line (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        return [Chunk.from_dict(json.loads(line)) for line in handle if line.strip()]


def make_faiss_index(vectors: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT):
    """Exact inner-product search while it is fast enough, IVF with half-precision vectors beyond.

    Measured at 1M synthetic 384-d chunks on 2 cores (docs/bench.md): IVF4096,SQfp16 trains and adds
    in 45-90 s, holds 2 bytes per dimension (746 MiB), and with nprobe 128 finds 98.8% (real
    questions) / 100% (synthetic queries) of the exact top 10 in ~1 ms. IVF4096,SQ8 (380 MiB) stalls
    at 0.96-0.97 recall (8-bit codes blur near-ties); HNSW32 builds in 3-5 min, takes 1.7 GiB and
    reaches only 0.93 for the real questions at efSearch 256. nprobe is stored in the index file.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    count, dim = vectors.shape
    if count <= exact_limit:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = ivf_nlist(count)
        index = faiss.index_factory(dim, f"IVF{nlist},SQfp16", faiss.METRIC_INNER_PRODUCT)
        sample = min(count, nlist * 40)
        rows = np.sort(np.random.default_rng(0).choice(count, sample, replace=False)) if sample < count else slice(None)
        index.train(vectors[rows])
        faiss.extract_index_ivf(index).nprobe = min(nlist, max(IVF_NPROBE, nlist // 128))
    index.add(vectors)
    return index


def make_bm25(token_lists: list[list[str]]):
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG and chats on stderr
    retriever = bm25s.BM25()
    # bm25s cannot index an empty document; a placeholder token keeps positions aligned with chunks.
    docs = [tokens or ["\u2400"] for tokens in token_lists]
    # A sorted vocabulary makes the saved files identical from build to build (no churn in index/).
    vocab = {token: number for number, token in enumerate(sorted({t for doc in docs for t in doc}))}
    ids = [[vocab[t] for t in doc] for doc in docs]
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return retriever


_HELD_LOCKS: set[str] = set()  # index folders whose lock this process holds (flock is per open file)


@contextlib.contextmanager
def build_lock(index_dir: Path):
    """One build at a time per index folder: a second one fails at once with a clear message.

    The lock is an flock on a sibling file: the kernel releases it when the holder dies, even by kill -9.
    """
    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir.parent / f".{index_dir.name}.lock"
    with open(lock_path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another build is writing {index_dir} (lock {lock_path}); wait for it to finish") from None
        _HELD_LOCKS.add(str(index_dir.resolve()))
        try:
            _remove_dead_builds(index_dir)
            yield
        finally:
            _HELD_LOCKS.discard(str(index_dir.resolve()))
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_dead_builds(index_dir: Path) -> None:
    """Staging and old folders left by builds that were killed (we hold the lock, so none is live)."""
    recover_interrupted(index_dir, locked=True)
    for leftover in index_dir.parent.glob(f"{index_dir.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if index_dir.exists():
        for leftover in index_dir.parent.glob(f"{index_dir.name}.old-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def write_index(index_dir: Path, manifest: dict, chunks: Sequence[Chunk], sources: dict[str, str],
                vectors: np.ndarray, token_lists: list[list[str]], sentence_vectors: np.ndarray) -> None:
    """Write every file to a temporary sibling, then swap it in (the caller holds build_lock)."""
    import faiss

    index_dir = Path(index_dir)
    staging = index_dir.parent / f"{index_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with open(staging / CHUNKS, "w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    (staging / SOURCES).write_text(json.dumps(sources, ensure_ascii=False), encoding="utf-8")
    np.save(staging / VECTORS, vectors.astype(np.float16))  # half precision: half the disk, same ranking
    np.save(staging / SENTENCES, sentence_vectors.astype(np.float16))
    np.save(staging / SENTENCE_ROWS, sentence_rows(chunks))
    faiss.write_index(make_faiss_index(vectors), str(staging / DENSE))
    make_bm25(token_lists).save(str(staging / BM25_DIR))
    # The manifest goes last: a folder without one is never taken for a finished index.
    (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    _fsync_tree(staging)
    previous = index_dir.parent / f"{index_dir.name}.old-{os.getpid()}"
    if index_dir.exists():
        os.rename(index_dir, previous)
    os.rename(staging, index_dir)
    shutil.rmtree(previous, ignore_errors=True)


def recover_interrupted(index_dir: Path, locked: bool = False) -> None:
    """If a build died between its two renames, put the previous index back.

    Only when no build is running: a live build is between its renames on purpose.
    """
    index_dir = Path(index_dir)
    if index_dir.exists() or not any(index_dir.parent.glob(f"{index_dir.name}.old-*")):
        return
    if not locked:
        if str(index_dir.resolve()) in _HELD_LOCKS:
            return
        try:
            with build_lock(index_dir):  # recovers inside, via _remove_dead_builds
                return
        except IndexBusy:
            return
    for old in sorted(index_dir.parent.glob(f"{index_dir.name}.old-*")):
        if (old / MANIFEST).exists():
            os.rename(old, index_dir)
            return


def read_manifest(index_dir: Path) -> dict:
    index_dir = Path(index_dir)
    recover_interrupted(index_dir)
    path = index_dir / MANIFEST
    if not path.exists():
        raise IndexNotFound(f"no index at {index_dir} ({path} is missing): {rebuild_advice(index_dir)}")
    # Every suggested command rebuilds the index from the corpus it was built from (rag.provenance).
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexCorrupt(f"{path} is unreadable ({error}): {rebuild_advice(index_dir, unknown_corpus=True)}") from None
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"{path} is not a manifest (a JSON object): "
                           f"{rebuild_advice(index_dir, unknown_corpus=True)}")
    if manifest.get("format") != FORMAT:
        raise IndexMismatch(
            f"{path} has index format {manifest.get('format')!r}, this version reads {FORMAT}: "
            f"{rebuild_advice(index_dir, manifest, unknown_corpus=True)}"
        )
    return manifest


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

    def article_text(self, chunk: Chunk) -> str:
        """The original text of the whole article a chunk belongs to (from its first to its last chunk)."""
        spans = self.__dict__.get("_article_spans")
        if spans is None:
            spans = {}
            for c in self.chunks:
                key = (c.source, c.article)
                start, end = spans.get(key, (c.start, c.end))
                spans[key] = (min(start, c.start), max(end, c.end))
            self.__dict__["_article_spans"] = spans
        start, end = spans.get((chunk.source, chunk.article), (chunk.start, chunk.end))
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

    def stored_vectors(self) -> np.ndarray:
        return np.load(self.folder / VECTORS).astype(np.float32)

    def dense_search(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.chunks))
        scores, ids = self.dense.search(np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def lexical_search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        if not tokens:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = np.asarray(self.bm25.get_scores(tokens))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top, scores[top]


def stale_files(manifest: dict, current: dict[str, str]) -> list[str]:
    """Corpus files that changed, appeared or vanished since the index was built (files `rag add` put in
    are not the corpus's: `corpus_files` keeps the corpus's own fingerprint of a name they replaced)."""
    built = manifest.get("corpus_files", {})
    changed = [name for name, digest in current.items() if built.get(name) != digest]
    gone = [name for name in built if name not in current and not manifest.get("added", {}).get(name)]
    return sorted(changed + gone)


def embed_with_cache(
    embedder, texts: list[str], cache: dict[str, np.ndarray], batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Embed passages, reusing vectors cached by (model, text hash); returns (vectors, how many were new)."""
    keys = [text_hash(embedder.name + "\x1f" + text) for text in texts]
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
    cache = {text_hash(embedder_name + "\x1f" + passage_text(c)): v for c, v in zip(chunks, vectors)}
    try:
        sentence_vectors = np.load(index_dir / SENTENCES, mmap_mode="r")
        rows = np.load(index_dir / SENTENCE_ROWS)
    except Exception:
        return cache
    if (sentence_vectors.ndim != 2 or rows.shape != (len(chunks) + 1,) or rows[-1] != len(sentence_vectors)
            or not np.array_equal(rows, sentence_rows(chunks))):
        return cache  # rows that do not match this splitter's sentences are not reused
    for text, row in zip(sentence_texts(chunks), range(len(sentence_vectors))):
        cache[text_hash(embedder_name + "\x1f" + text)] = np.asarray(sentence_vectors[row], np.float32)
    return cache


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
