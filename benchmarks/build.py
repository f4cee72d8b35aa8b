"""Parts `build` (throughput per build stage, and the embedder's raw throughput) and `incremental`
(an unchanged re-build and `add` of one new article, in a temporary folder)."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import TARGET_EMBED_OVERHEAD, BenchOptions, timed
from rag.config import Config

NEW_ARTICLE = """崂山区垃圾分类工作获评全省先进

本报青岛讯 记者从崂山区城市管理局获悉，今年以来，崂山区持续推进生活垃圾分类，全区建成垃圾分类投放点1260处，\
配备分类收运车辆86辆，居民小区分类覆盖率达到100%。崂山区累计清运生活垃圾66400吨，其中可回收物资源化利用率达到38%。\
在沙子口街道，12个社区试点“积分兑换”模式，居民正确投放一次可获得2个积分，积分可在社区超市兑换日用品。\
截至11月底，参与积分兑换的家庭已超过9000户。崂山区还在景区设置了42处分类驿站，方便游客分类投放。\
下一步，崂山区将继续完善分类收运体系，力争明年实现厨余垃圾日处理能力达到300吨。
"""


def bench_build(config: Config, options: BenchOptions) -> dict:
    """Per-stage throughput of a build on the corpus, and the embedder's raw throughput on the same texts."""
    from rag.chunking import chunk_articles
    from rag.corpus import load_corpus
    from rag.embedding import make_embedder
    from rag.embedding_cache import embed_with_cache, passage_text
    from rag.lexical import jieba_ready, tokenize_many
    from rag.store.bm25 import make_bm25
    from rag.store.dense import make_faiss_index

    (articles, sources, _), clean_s = timed(load_corpus, config.corpus_dir)
    chunks, chunk_s = timed(chunk_articles, articles, config.chunk_size, config.chunk_overlap)
    texts = [passage_text(c) for c in chunks]
    n = len(chunks)
    embedder, load_s = timed(make_embedder, config.embedder, config.batch_size)
    embedder.embed_passages(texts[:2])  # warm-up: first-call allocations are not throughput
    # The same batches embed_with_cache makes: shortest texts first, batch_size at a time.
    order = sorted(range(n), key=lambda i: len(texts[i]))
    batches = [[texts[i] for i in order[s:s + config.batch_size]] for s in range(0, n, config.batch_size)]
    pipeline_runs, raw_runs, vectors = [], [], None
    for _ in range(3):  # alternate, so load changes on a shared machine hit both alike
        (vectors, embedded), seconds = timed(embed_with_cache, embedder, texts, {}, config.batch_size)
        pipeline_runs.append(seconds)
        started = time.perf_counter()
        for batch in batches:
            embedder.embed_passages(batch)
        raw_runs.append(time.perf_counter() - started)
    _, jieba_s = timed(jieba_ready)
    tokens, tokenize_s = timed(tokenize_many, texts)
    _, bm25_index_s = timed(make_bm25, tokens)
    _, faiss_s = timed(make_faiss_index, vectors)
    # Best of the runs: on a shared machine the minimum is the least disturbed measurement.
    embed_s, raw_s = min(pipeline_runs), min(raw_runs)

    def row(name, seconds, note=""):
        return {"stage": name, "seconds": round(seconds, 4),
                "chunks_per_s": round(n / seconds, 1) if seconds > 0 else None, "note": note}

    stages = [
        row("clean", clean_s, "rag.corpus.load_corpus"),
        row("chunk", chunk_s, "rag.chunking.chunk_articles"),
        row("embed", embed_s, f"rag.embedding_cache.embed_with_cache, empty cache (best of {len(pipeline_runs)})"),
        row("embed (raw)", raw_s, f"{type(embedder).__name__}.embed_passages, same batches (best of {len(raw_runs)})"),
        row("bm25", tokenize_s + bm25_index_s, f"tokenize_many {tokenize_s:.3f} s + make_bm25 {bm25_index_s:.3f} s"),
        row("faiss", faiss_s, "make_faiss_index"),
    ]
    overhead = embed_s / raw_s - 1 if raw_s > 0 else 0.0
    paired = [p / r - 1 for p, r in zip(pipeline_runs, raw_runs) if r > 0]
    return {
        "corpus": str(config.corpus_dir), "files": len(sources), "articles": len(articles), "chunks": n,
        "embedder": embedder.name, "batch_size": config.batch_size, "model_load_s": round(load_s, 3),
        "jieba_init_s": round(jieba_s, 3), "stages": stages,
        "embed_runs_s": [round(x, 3) for x in pipeline_runs], "raw_embed_runs_s": [round(x, 3) for x in raw_runs],
        # Headline: the median of back-to-back (pipeline, raw) pairs, which share the machine's load at
        # the time; best-vs-best can pair runs taken under different load (a shared 2-core machine).
        "embed_overhead": round(float(np.median(paired)), 4), "embed_overhead_best_vs_best": round(overhead, 4),
        "embed_overhead_target": TARGET_EMBED_OVERHEAD,
        "embed_overhead_met": abs(float(np.median(paired))) <= TARGET_EMBED_OVERHEAD,
    }


def bench_incremental(config: Config, options: BenchOptions) -> dict:
    """First build, unchanged re-build and `add` of one new file, all in a temporary folder."""
    from rag.build import add_to_index, build_index
    from rag.embedding import make_embedder

    from rag.lexical import jieba_ready

    embedder, load_s = timed(make_embedder, config.embedder, config.batch_size)
    _, jieba_s = timed(jieba_ready)
    with tempfile.TemporaryDirectory(prefix="rag-bench-incr-") as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus"
        shutil.copytree(config.corpus_dir, corpus)
        local = config.with_(corpus_dir=corpus, index_dir=tmp / "index")
        first = build_index(local, embedder=embedder)
        again = build_index(local, embedder=embedder)
        copy = tmp / "index-copy"
        shutil.copytree(local.index_dir, copy)
        new = tmp / "new" / "999_bench_new_article.txt"
        new.parent.mkdir()
        new.write_text(NEW_ARTICLE, encoding="utf-8")
        added = add_to_index(local.with_(index_dir=copy), [new], embedder=embedder)

    def report(r):
        return {"seconds": round(r.seconds, 3), "chunks": r.chunks, "embedded": r.embedded,
                "stages_s": {k: round(v, 3) for k, v in r.stage_seconds.items()}}

    return {"embedder": embedder.name, "model_load_s": round(load_s, 3), "jieba_init_s": round(jieba_s, 3),
            "note": "The embedder and jieba are loaded once beforehand; each CLI command also pays for loading them",
            "first_build": report(first), "rebuild_unchanged": report(again), "add_one_file": report(added),
            "rebuild_embeds_nothing": again.embedded == 0,
            "rebuild_vs_first": round(again.seconds / first.seconds, 3) if first.seconds else None}
