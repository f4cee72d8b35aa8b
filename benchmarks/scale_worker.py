"""The subprocesses of the `scale` part, one per step so each is measured in a fresh process:

    python -m benchmarks.scale_worker scale-build --size N --dir D --index I --queries Q [--ann]
    python -m benchmarks.scale_worker scale-serve --dir D --queries Q [--n 200]

Each prints one JSON object on its last line.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from benchmarks.common import folder_bytes, latency_stats, proc_memory, repeat_to, timed, to_ms
from benchmarks.synthetic import load_queries, synthesise, synthetic_sentence_vectors


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f[f >= 0]) & set(e)) / len(e) for f, e in zip(found, exact)]))


def _single_query_ms(search: Callable[[np.ndarray], object], queries: np.ndarray, repeat: int = 100) -> dict:
    times = []
    for i in range(min(repeat, len(queries) * 4)):
        _, t = timed(search, queries[i % len(queries)][None, :])
        times.append(to_ms(t))
    return latency_stats(times)


def scale_build(n: int, workdir: Path, index_dir: Path, queries: Path, ann: bool) -> dict:
    """(subprocess) Build the synthetic corpus of n chunks, save FAISS + BM25 + texts, check recall."""
    import faiss

    from rag.store.bm25 import make_bm25
    from rag.store.dense import EXACT_SEARCH_LIMIT, make_faiss_index
    from rag.store.layout import BM25_DIR, DENSE, SENTENCES

    workdir = Path(workdir)
    out: dict = {"chunks": n}
    (vectors, token_lists, vocab), t = timed(synthesise, Path(index_dir), n)
    out["synthesise_s"] = round(t, 2)
    out["seed_vocabulary"] = vocab
    dense, t = timed(make_faiss_index, vectors)
    out["faiss_build_s"] = round(t, 2)
    out["faiss_type"] = type(dense).__name__
    ivf = None
    try:
        ivf = faiss.extract_index_ivf(dense)
        out["faiss_type"] = f"IVF{ivf.nlist},SQfp16 (nprobe {ivf.nprobe})"
    except RuntimeError:
        pass
    _, t = timed(faiss.write_index, dense, str(workdir / DENSE))
    out["faiss_save_s"] = round(t, 2)
    bm25, t = timed(make_bm25, token_lists)
    out["bm25_build_s"] = round(t, 2)
    _, t = timed(bm25.save, str(workdir / BM25_DIR))
    out["bm25_save_s"] = round(t, 2)
    del bm25
    started = time.perf_counter()
    with open(workdir / "texts.txt", "w", encoding="utf-8") as handle:
        for tokens in token_lists:
            handle.write("".join(tokens).replace("\n", " ") + "\n")
    out["texts_save_s"] = round(time.perf_counter() - started, 2)
    del token_lists
    started = time.perf_counter()
    out["sentences"] = synthetic_sentence_vectors(workdir, vectors)
    out["sentences_save_s"] = round(time.perf_counter() - started, 2)
    out["build_s"] = round(out["faiss_build_s"] + out["faiss_save_s"] + out["bm25_build_s"] + out["bm25_save_s"]
                           + out["texts_save_s"], 2)
    out["disk_bytes"] = {"faiss": folder_bytes(workdir / DENSE), "bm25": folder_bytes(workdir / BM25_DIR),
                         "texts": folder_bytes(workdir / "texts.txt"), "sentences": folder_bytes(workdir / SENTENCES)}
    real, synthetic, _ = load_queries(queries)
    exact_real = faiss.knn(real, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    exact_syn = faiss.knn(synthetic, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    out["top1_cosine_synthetic_queries"] = round(float(faiss.knn(synthetic, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)[0].mean()), 4)
    if n > EXACT_SEARCH_LIMIT:
        out["recall@10_real"] = round(_recall(dense.search(real, 10)[1], exact_real), 4)
        out["recall@10_synthetic"] = round(_recall(dense.search(synthetic, 10)[1], exact_syn), 4)
        # What exact search would cost at this size, for the choice of index type.
        out["exact_flat_search"] = _single_query_ms(
            lambda q: faiss.knn(q, vectors, 50, metric=faiss.METRIC_INNER_PRODUCT), synthetic, 30)
    else:
        out["recall@10_real"] = out["recall@10_synthetic"] = 1.0
    if ann:
        out["ann"] = _compare_indexes(vectors, real, synthetic, exact_real, exact_syn, dense)
    out["peak_rss_bytes"] = proc_memory("VmHWM")
    return out


def _compare_indexes(vectors, real, synthetic, exact_real, exact_syn, chosen) -> list[dict]:
    """Other FAISS index types on the same vectors: build time, size, recall@10, single-query latency."""
    import faiss

    from rag.store.dense import ivf_nlist

    rows = []
    dim, n = vectors.shape[1], len(vectors)
    nlist = faiss.extract_index_ivf(chosen).nlist if not isinstance(chosen, faiss.IndexFlat) else ivf_nlist(n)

    def measure(name, index, build_s, settings):
        size = int(faiss.serialize_index(index).nbytes)
        for label, apply in settings:
            apply(index)
            rows.append({
                "index": name, "setting": label, "build_s": round(build_s, 2), "bytes": size,
                "recall@10_real": round(_recall(index.search(real, 10)[1], exact_real), 4),
                "recall@10_synthetic": round(_recall(index.search(synthetic, 10)[1], exact_syn), 4),
                **{f"search_{k}": v for k, v in _single_query_ms(lambda q: index.search(q, 50), synthetic, 100).items()
                   if k in ("p50_ms", "p95_ms")},
            })

    def nprobe(p):
        return (f"nprobe {p}", lambda index: setattr(faiss.extract_index_ivf(index), "nprobe", min(p, nlist)))

    sample = np.sort(np.random.default_rng(0).choice(n, min(n, nlist * 40), replace=False))
    for spec in (f"IVF{nlist},SQfp16", f"IVF{nlist},SQ8"):
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
        started = time.perf_counter()
        index.train(vectors[sample])
        index.add(vectors)
        measure(spec, index, time.perf_counter() - started, [nprobe(p) for p in (16, 32, 64, 128)])
        del index
    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    _, build_s = timed(index.add, vectors)
    measure("HNSW32 (efConstruction 80)", index, build_s,
            [(f"efSearch {e}", lambda ix, e=e: setattr(ix.hnsw, "efSearch", e)) for e in (64, 128, 256)])
    return rows


class LazyChunks(Sequence):
    """Index.chunks for a synthetic corpus: a Chunk is made only for the few passages retrieval returns."""

    def __init__(self, texts: list[str]):
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i):
        from rag.types import Chunk

        text = self.texts[i]
        return Chunk(text=text, source=f"synthetic-{i // 10:06d}.txt", title="", start=0, end=len(text))


def scale_serve(workdir: Path, queries: Path, n_queries: int) -> dict:
    """(subprocess) Load the saved FAISS + BM25 + texts and time the retrieval path per query."""
    import bm25s
    import faiss

    from rag.config import Config
    from rag.lexical import jieba_ready
    from rag.question import analyse
    from rag.retrieval import retrieve
    from rag.store.folder import Index
    from rag.store.layout import BM25_DIR, DENSE, SENTENCE_ROWS, SENTENCES
    from rag.types import Chunk

    workdir = Path(workdir)
    out: dict = {}
    jieba_ready()
    rss_start = proc_memory("VmRSS")
    started = time.perf_counter()
    dense = faiss.read_index(str(workdir / DENSE))
    import logging

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    bm25 = bm25s.BM25.load(str(workdir / BM25_DIR))
    texts = (workdir / "texts.txt").read_text(encoding="utf-8").split("\n")[:-1]
    out["load_s"] = round(time.perf_counter() - started, 2)
    # As Index.load does: the sentence vectors memory-mapped, their row offsets read.
    index = Index(workdir, {}, LazyChunks(texts), {}, dense, bm25,
                  np.load(workdir / SENTENCES, mmap_mode="r"), np.load(workdir / SENTENCE_ROWS))
    out["rss_after_load_bytes"] = proc_memory("VmRSS")
    out["rss_index_bytes"] = out["rss_after_load_bytes"] - rss_start
    real, synthetic, questions = load_queries(queries)
    questions = [analyse(q) for q in questions]  # once per question, as Pipeline.ask does (not timed here)
    config = Config()
    k = max(config.top_k, 10)
    plan = repeat_to(list(range(len(questions))), n_queries)
    # Warm-up: first calls fault the index pages in.
    for i in plan[:3]:
        retrieve(index, real[i], questions[i], config, k=k)
    times: dict[str, list[float]] = {"dense": [], "bm25": [], "fusion": [], "retrieval": [], "sentences": []}
    for i in plan:
        stages: dict[str, float] = {}
        chunks, t = timed(retrieve, index, real[i], questions[i], config, k, timings=stages)
        for stage, seconds in stages.items():
            times[stage].append(to_ms(seconds))
        times["retrieval"].append(to_ms(t))
        # The answer step's read of the retrieved passages' sentence vectors (pages come from disk on a miss).
        _, t = timed(lambda: [index.sentence_similarity(c, real[i]) for c in chunks])
        times["sentences"].append(to_ms(t))
    out["latency"] = {name: latency_stats(values) for name, values in times.items()}
    out["peak_rss_bytes"] = proc_memory("VmHWM")
    # What a real Index.load adds: one Chunk object per passage. Measured on up to 100k, per chunk.
    sample = min(len(texts), 100_000)
    before = proc_memory("VmRSS")
    held = [Chunk(text=texts[i], source=f"synthetic-{i // 10:06d}.txt", title="", start=0, end=len(texts[i]),
                  metadata={}, article=i % 10) for i in range(sample)]
    out["chunk_object_bytes_each"] = int((proc_memory("VmRSS") - before) / max(sample, 1))
    del held
    return out


def _main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.scale_worker", description="internal workers of `python -m rag bench`")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("scale-build")
    b.add_argument("--size", type=int, required=True)
    b.add_argument("--dir", required=True)
    b.add_argument("--index", required=True)
    b.add_argument("--queries", required=True)
    b.add_argument("--ann", action="store_true")
    s = sub.add_parser("scale-serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--queries", required=True)
    s.add_argument("--n", type=int, default=200)
    args = p.parse_args(argv)
    if args.command == "scale-build":
        out = scale_build(args.size, Path(args.dir), Path(args.index), Path(args.queries), args.ann)
    else:
        out = scale_serve(Path(args.dir), Path(args.queries), args.n)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
