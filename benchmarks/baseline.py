"""Part `baseline`: this pipeline vs plain dense-only retrieval over fixed 250-character chunks."""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from benchmarks.common import CMRC, SEED_QA, BenchOptions, latency_stats, seed_questions, timed, to_ms
from rag.config import Config

BASELINE_CHUNK = 250


def fixed_chunks(sources: dict[str, str], size: int = BASELINE_CHUNK):
    from rag.types import Chunk

    return [Chunk(text=text[s:s + size], source=name, title="", start=s, end=min(len(text), s + size))
            for name, text in sorted(sources.items()) for s in range(0, len(text), size) if text[s:s + size].strip()]


class DenseBaseline:
    """Plain dense retrieval: fixed 250-character windows of the raw text, one IndexFlatIP, no BM25."""

    def __init__(self, sources: dict[str, str], embedder, batch_size: int):
        import faiss

        self.embedder = embedder
        self.chunks = fixed_chunks(sources)
        texts = [c.text for c in self.chunks]
        started = time.perf_counter()
        vectors = np.concatenate([embedder.embed_passages(texts[s:s + batch_size])
                                  for s in range(0, len(texts), batch_size)]) if texts else np.zeros((0, embedder.dim))
        self.build_s = time.perf_counter() - started
        self.index = faiss.IndexFlatIP(embedder.dim)
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, question: str, k: int):
        from rag.retrieval import query_text

        vector = self.embedder.embed_queries([query_text(question)])
        scores, ids = self.index.search(np.ascontiguousarray(vector, dtype=np.float32), min(k, len(self.chunks)))
        return [replace(self.chunks[i], score=float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def compare_retrieval(pipeline, baseline: DenseBaseline, questions, config: Config) -> dict:
    from rag.evaluate import is_relevant
    from rag.question import analyse
    from rag.retrieval import query_text, retrieve

    answerable = [q for q in questions if q.source is not None]
    rows = {"pipeline": {"hits": 0, "retrieval": [], "ask": []}, "baseline": {"hits": 0, "retrieval": []}}
    embedder = pipeline.embedder
    for q in answerable[:2]:
        pipeline.ask(q.question), baseline.search(q.question, 5)  # warm-up
    for q in answerable:
        started = time.perf_counter()
        question = analyse(q.question)
        vector = embedder.embed_queries([query_text(question)])[0]
        found = retrieve(pipeline.index, vector, question, config, k=5)
        rows["pipeline"]["retrieval"].append(to_ms(time.perf_counter() - started))
        rows["pipeline"]["hits"] += any(is_relevant(c, q) for c in found[:5])
        _, t = timed(pipeline.ask, q.question)
        rows["pipeline"]["ask"].append(to_ms(t))
        found, t = timed(baseline.search, q.question, 5)
        rows["baseline"]["retrieval"].append(to_ms(t))
        rows["baseline"]["hits"] += any(is_relevant(c, q) for c in found[:5])
    n = len(answerable) or 1
    return {
        "questions": len(answerable),
        "pipeline": {"chunks": len(pipeline.index.chunks), "recall@5": round(rows["pipeline"]["hits"] / n, 4),
                     "retrieval_p50_ms": latency_stats(rows["pipeline"]["retrieval"])["p50_ms"],
                     "ask_p50_ms": latency_stats(rows["pipeline"]["ask"])["p50_ms"]},
        "baseline": {"chunks": len(baseline.chunks), "recall@5": round(rows["baseline"]["hits"] / n, 4),
                     "retrieval_p50_ms": latency_stats(rows["baseline"]["retrieval"])["p50_ms"],
                     "embed_s": round(baseline.build_s, 2)},
    }


def bench_baseline(config: Config, options: BenchOptions) -> dict:
    from rag.corpus import load_corpus
    from rag.pipeline import Pipeline

    pipeline = Pipeline.load(config)
    _, sources, _ = load_corpus(config.corpus_dir)
    baseline = DenseBaseline(sources, pipeline.embedder, config.batch_size)
    out = {"recall": "a retrieved chunk counts when it comes from the question's source file and holds an answer "
                     "string (CMRC: holds the gold answer span); unanswerable questions are left out",
           "seed": {"data": str(SEED_QA), **compare_retrieval(pipeline, baseline, seed_questions(), config)}}
    cmrc = options.cmrc
    if cmrc > 0 and CMRC.exists():
        from rag.evaluate import load_squad, squad_pipeline

        articles, squad_sources, questions = load_squad(CMRC)
        questions = questions[:cmrc]
        squad = squad_pipeline(CMRC, config, articles, squad_sources)
        squad_baseline = DenseBaseline(squad_sources, pipeline.embedder, config.batch_size)
        out["cmrc"] = {"data": f"{CMRC} (first {len(questions)} questions, all {len(squad_sources)} passages indexed)",
                       **compare_retrieval(squad, squad_baseline, questions, squad.config)}
    return out
