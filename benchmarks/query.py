"""Part `query`: latency p50/p95 per query stage and end to end (Pipeline.ask) on the configured index."""
from __future__ import annotations

from benchmarks.common import BenchOptions, latency_stats, repeat_to, seed_questions, timed, to_ms
from rag.config import Config


def bench_query(config: Config, options: BenchOptions) -> dict:
    """Per-stage and end-to-end latency over the seed questions, repeated to --queries."""
    from rag.answer import extract_answer
    from rag.pipeline import Pipeline
    from rag.question import analyse
    from rag.retrieval import query_text, retrieve

    pipeline = Pipeline.load(config)
    index, embedder = pipeline.index, pipeline.embedder
    questions = repeat_to([q.question for q in seed_questions()], options.queries)
    k = max(config.top_k, 10)  # what Pipeline.ask retrieves
    pool = max(config.candidates, k)
    for question in questions[:3]:
        pipeline.ask(question)  # warm-up (jieba dictionary, first FAISS call)
    times: dict[str, list[float]] = {s: [] for s in ("analyse", "embed", "dense", "bm25", "fusion", "extract", "end_to_end")}
    for question in questions:
        analysed, t = timed(analyse, question)
        times["analyse"].append(to_ms(t))
        vector, t = timed(lambda: embedder.embed_queries([query_text(analysed)])[0])
        times["embed"].append(to_ms(t))
        stages: dict[str, float] = {}
        chunks = retrieve(index, vector, analysed, config, k, timings=stages)
        for stage, seconds in stages.items():
            times[stage].append(to_ms(seconds))
        _, t = timed(extract_answer, analysed, chunks, config.top_k, config.abstain_threshold,
                     source_text=index.article_text, similarity=pipeline.similarity_to(vector),
                      reader=pipeline.reader)
        times["extract"].append(to_ms(t))
    for question in questions:
        _, t = timed(pipeline.ask, question)
        times["end_to_end"].append(to_ms(t))
    notes = {"analyse": "rag.question.analyse (jieba tokens, tagged places, question word)",
             "embed": "embed_queries (one question)", "dense": f"Index.dense_search, {pool} candidates",
             "bm25": "Index.lexical_search", "fusion": "rrf + top_k + chunks",
             "extract": f"rag.answer.extract_answer (sentence scorer + reader {config.reader})",
             "end_to_end": "Pipeline.ask"}
    stats = {s: latency_stats(v) for s, v in times.items()}
    # Machines differ: the goal is stated as a ratio to one query embedding measured in this same run.
    ratio = {q: round(stats["end_to_end"][q] / max(stats["embed"]["p50_ms"], 1e-9), 2) for q in ("p50_ms", "p95_ms")}
    return {"index": str(config.index_dir), "chunks": len(index.chunks), "faiss": type(index.dense).__name__,
            "embedder": embedder.name, "reader": config.reader, "queries": len(questions),
            "unique_questions": len(set(questions)), "ask_over_one_embedding": ratio,
            "stages": [{"stage": s, **stats[s], "note": notes[s]} for s in times]}
