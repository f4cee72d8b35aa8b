"""The index folder on disk: its file names, and writing it so that readers never see half of it.

A build writes every file to a temporary sibling folder and swaps it in at the end, under a lock, so an
interrupted build leaves the previous index intact and two builds never mix. A build killed between its
two renames is undone by `recover_interrupted` (the next reader or build puts the previous index back).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.chunking import answer_sentences
from rag.crosslingual import write_lexicon
from rag.errors import IndexBusy
from rag.store.bm25 import make_bm25
from rag.store.dense import make_faiss_index
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


def sentence_texts(chunks: Sequence[Chunk]) -> list[str]:
    """The answer sentences of every chunk, in chunk order: the rows of sentences.npy."""
    return [chunk.text[start:end] for chunk in chunks for start, end in answer_sentences(chunk.text)]


def sentence_rows(chunks: Sequence[Chunk]) -> np.ndarray:
    """Row offsets into sentences.npy: chunk i owns rows [r[i], r[i+1])."""
    return np.concatenate([[0], np.cumsum([len(answer_sentences(c.text)) for c in chunks])]).astype(np.int64)


def read_chunks(path: Path) -> list[Chunk]:
    """The chunks of an index's chunks.jsonl, one JSON object a line (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        return [Chunk.from_dict(json.loads(line)) for line in handle if line.strip()]


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


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder` to disk (before the swap makes it the index)."""
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
    write_lexicon(staging, (chunk.text for chunk in chunks))  # English questions: rag.crosslingual
    # The manifest goes last: a folder without one is never taken for a finished index.
    (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    fsync_tree(staging)
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
