"""Synthetic corpora for the `scale` part, made from a real index.

Every synthetic chunk picks two real chunks of the index (anchors a, b) and a weight w ~ U(0.2, 0.8).
Its vector is normalise(w·v_a + (1-w)·v_b + noise), the noise isotropic with norm ≈ 0.25; its text is
~100 jieba tokens, each drawn from anchor a's tokens (probability w) or b's, 10% replaced by tokens drawn
from the whole corpus (unigram frequencies). So vectors and words agree the way they do in real text,
and near neighbours are close (top-1 cosine ≈ 0.95): a harder case for approximate search than
isotropic random vectors.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from benchmarks.common import seed_questions
from rag.config import Config

TOKENS_PER_SYNTHETIC_CHUNK = 100
SYNTHETIC_QUERIES = 200  # held-out synthetic query vectors for recall@10 (besides the real questions)


def seed_material(index_dir: Path):
    """Vectors, passage texts and jieba tokens of the real index the synthetic corpora are made from."""
    from rag.embedding_cache import passage_text
    from rag.lexical import tokenize_many
    from rag.store.layout import CHUNKS, VECTORS, read_chunks

    vectors = np.load(Path(index_dir) / VECTORS).astype(np.float32)
    chunks = read_chunks(Path(index_dir) / CHUNKS)
    tokens = tokenize_many([passage_text(c) for c in chunks])
    return vectors, tokens


def synthetic_vectors(base: np.ndarray, n: int, rng: np.random.Generator, anchors=None) -> tuple[np.ndarray, tuple]:
    """normalise(w·base[a] + (1-w)·base[b] + noise); returns the vectors and (a, b, w)."""
    dim = base.shape[1]
    if anchors is None:
        anchors = (rng.integers(0, len(base), n), rng.integers(0, len(base), n),
                   rng.uniform(0.2, 0.8, n).astype(np.float32))
    a, b, w = anchors
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        v = (w[s:e, None] * base[a[s:e]] + (1 - w[s:e, None]) * base[b[s:e]]
             + rng.standard_normal((e - s, dim), dtype=np.float32) * np.float32(0.25 / math.sqrt(dim)))
        out[s:e] = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return out, anchors


def synthesise(index_dir: Path, n: int, seed: int = 0):
    """n synthetic chunks: vectors (float32, normalised), token lists and texts (see the module doc)."""
    base, chunk_tokens = seed_material(index_dir)
    usable = np.array([i for i, t in enumerate(chunk_tokens) if t], dtype=np.int64)
    vocab = sorted({t for tokens in chunk_tokens for t in tokens})
    position = {t: i for i, t in enumerate(vocab)}
    flat = np.array([position[t] for i in usable for t in chunk_tokens[i]], dtype=np.int32)
    lengths = np.array([len(chunk_tokens[i]) for i in usable], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rng = np.random.default_rng(seed)
    a = usable[rng.integers(0, len(usable), n)]
    b = usable[rng.integers(0, len(usable), n)]
    w = rng.uniform(0.2, 0.8, n).astype(np.float32)
    vectors, _ = synthetic_vectors(base, n, rng, (a, b, w))
    a_slot, b_slot = np.searchsorted(usable, a), np.searchsorted(usable, b)  # positions in `usable`
    words = np.array(vocab, dtype=object)
    token_lists: list[list[str]] = []
    L = TOKENS_PER_SYNTHETIC_CHUNK
    for s in range(0, n, 50_000):
        e = min(n, s + 50_000)
        pick = np.where(rng.random((e - s, L)) < w[s:e, None], a_slot[s:e, None], b_slot[s:e, None])
        ids = flat[offsets[pick] + (rng.random((e - s, L)) * lengths[pick]).astype(np.int64)]
        noise = rng.random((e - s, L)) < 0.1
        ids[noise] = flat[rng.integers(0, len(flat), int(noise.sum()))]
        token_lists.extend(words[ids].tolist())
    return vectors, token_lists, len(vocab)


def query_set(config: Config, index_dir: Path, workdir: Path) -> Path:
    """Query texts (the seed questions) and vectors (real embeddings where the embedder matches the vectors)."""
    from rag.retrieval import query_text
    from rag.store.layout import VECTORS

    base = np.load(Path(index_dir) / VECTORS).astype(np.float32)
    questions = [q.question for q in seed_questions()]
    real = None
    try:
        from rag.embedding import make_embedder

        embedder = make_embedder(config.embedder, config.batch_size)
        if embedder.dim == base.shape[1]:
            real = embedder.embed_queries([query_text(q) for q in questions])
    except Exception:  # no model: synthetic queries only
        real = None
    synthetic, _ = synthetic_vectors(base, SYNTHETIC_QUERIES, np.random.default_rng(12345))
    if real is None:
        real = synthetic[: len(questions)]
    path = workdir / "queries.npz"
    np.savez(path, real=real.astype(np.float32), synthetic=synthetic,
             questions=np.array(questions, dtype=object), allow_pickle=True)
    return path


def load_queries(path: Path):
    data = np.load(path, allow_pickle=True)
    return data["real"], data["synthetic"], [str(q) for q in data["questions"]]


def synthetic_sentence_vectors(workdir: Path, vectors: np.ndarray, seed: int = 0) -> int:
    """sentences.npy + sentence_rows.npy as a real index has them: 2-6 sentences a chunk (the seeds average
    3.1, CMRC 4.5), float16, each its chunk's vector plus noise. Written in blocks: never all in memory."""
    from rag.store.layout import SENTENCE_ROWS, SENTENCES

    rng = np.random.default_rng(seed)
    rows = np.concatenate([[0], np.cumsum(rng.integers(2, 7, len(vectors)))]).astype(np.int64)
    np.save(workdir / SENTENCE_ROWS, rows)
    out = np.lib.format.open_memmap(workdir / SENTENCES, mode="w+", dtype=np.float16,
                                    shape=(int(rows[-1]), vectors.shape[1]))
    for start in range(0, len(vectors), 100_000):
        end = min(len(vectors), start + 100_000)
        owner = np.repeat(np.arange(start, end), np.diff(rows[start:end + 1]))
        block = vectors[owner] + rng.normal(0, 0.02, (len(owner), vectors.shape[1])).astype(np.float32)
        out[rows[start]:rows[end]] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out.flush()
    del out
    return int(rows[-1])
