"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by weighted reciprocal rank."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import numpy as np

from rag.config import Config
from rag.lexical import normalise
from rag.question import Question, as_question
from rag.store import SearchIndex
from rag.types import Chunk


def rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int = 60) -> dict[int, float]:
    """Weighted reciprocal rank fusion: score(d) = Σ w_r / (k + rank_r(d)), ranks from 1."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, doc in enumerate(ranking, start=1):
            fused[int(doc)] = fused.get(int(doc), 0.0) + weight / (k + rank)
    return fused


def top_k(scores: dict[int, float], k: int) -> list[tuple[int, float]]:
    """The k best (doc, score) pairs, ties broken by doc id for determinism."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def retrieve(index: SearchIndex, query_vector: np.ndarray, question: Question | str, config: Config, k: int,
             mode: str = "hybrid", timings: dict[str, float] | None = None) -> list[Chunk]:
    """Top-k chunks for a question, best first, scores attached; mode 'hybrid', 'dense' or 'bm25'
    (the last two for evaluation).

    `timings`, when given, receives the seconds spent in each stage (dense, bm25, fusion) for benchmarks.
    """
    clock = time.perf_counter
    started = clock()
    k = max(1, min(k, len(index.chunks)))
    pool = max(config.candidates, k)
    dense_ids, dense_scores = index.dense_search(query_vector, pool) if mode != "bm25" else (np.zeros(0, int), np.zeros(0))
    dense_done = clock()
    tokens = list(as_question(question).tokens) if mode != "dense" else []
    lexical_ids, lexical_scores = index.lexical_search(tokens, pool)
    lexical_done = clock()
    # A lexical ranking that matched almost nothing (an English question over Chinese text) is noise:
    # its weight shrinks with the share of question tokens found in the corpus vocabulary.
    # An English question's Chinese terms (rag.crosslingual) weigh as much as the share of its words and names
    # that found any: names the corpus writes in other characters (XQuAD's 卡万·肖特) leave BM25 half blind.
    analysed = as_question(question) if mode != "dense" else None
    understood = _understood(analysed) if analysed is not None and not analysed.chinese and analysed.units else None
    lexical_weight = config.lexical_weight * (understood if understood is not None else _vocabulary_coverage(index, tokens))
    if mode == "dense":
        fused = {int(d): float(s) for d, s in zip(dense_ids, dense_scores)}
    elif mode == "bm25":
        fused = {int(d): float(s) for d, s in zip(lexical_ids, lexical_scores)}
    else:
        rankings, weights = [dense_ids, lexical_ids], [config.dense_weight, lexical_weight]
        if isinstance(question, Question) and any(unit.terms for unit in question.units):
            rankings.append(_by_units(index, question, dense_ids, lexical_ids))
            weights.append(UNIT_WEIGHT * (understood if understood is not None else 1.0))
        fused = rrf(rankings, weights, config.rrf_k)
    chunks = [replace(index.chunks[doc], score=score, index_row=doc) for doc, score in top_k(fused, k)]
    if timings is not None:
        timings.update(dense=dense_done - started, bm25=lexical_done - dense_done, fusion=clock() - lexical_done)
    return chunks


# An English question's candidates are also ranked by how many of its understood words and names each holds
# (rag.crosslingual.unit_scores), fused with dense and BM25 at this weight times the share of its words that
# found corpus words (chosen on seed_qa_en and XQuAD: benchmarks/crosslingual.py).
UNIT_WEIGHT = 0.5


def _by_units(index: SearchIndex, question: Question, *candidates: np.ndarray) -> list[int]:
    from rag.crosslingual import unit_scores

    pool = list(dict.fromkeys(int(d) for ids in candidates for d in ids))
    texts = [normalise(index.chunks[d].title + " " + index.chunks[d].text) for d in pool]
    scores = unit_scores(question.units, texts)
    return [d for d, s in sorted(zip(pool, scores), key=lambda p: (-p[1], p[0])) if s > 0]


def _understood(question: Question) -> float:
    """The share of an English question's content words and names that found corpus words."""
    content = [unit for unit in question.units if unit.terms or unit.name or len(unit.text) > 3]
    return sum(1 for unit in content if unit.terms) / len(content) if content else 0.0


def _vocabulary_coverage(index: SearchIndex, tokens: list[str]) -> float:
    if not tokens:
        return 0.0
    vocab = index.known_tokens(tokens)
    return sum(1 for token in tokens if token in vocab) / len(tokens)


# The embedder sees at most this many characters of a question: e5's cost grows faster than linearly
# with length (measured here: 30 chars 22 ms, 250 chars 285 ms, 500 chars 840 ms), and one pasted
# paragraph must not stall the shared queue. BM25 and answer extraction still see the whole question.
QUERY_EMBED_CHARS = 200


def query_text(question: Question | str) -> str:
    """The question as the embedder sees it: normalised (Traditional → Simplified, full-width → half),
    at most QUERY_EMBED_CHARS long."""
    normalised = question.normalised if isinstance(question, Question) else normalise(question)
    return normalised.strip()[:QUERY_EMBED_CHARS]
