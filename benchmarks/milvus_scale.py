"""Scale on one machine: N synthetic chunks in Milvus Lite beside the FAISS + bm25s index, each in its own process.

    python benchmarks/milvus_scale.py --sizes 100000,1000000 --budget 1500 [--out results.json]

Synthetic chunks: 384-d unit vectors around 2,000 random centres (top-1 neighbours close, as real text);
text = 100 jieba tokens of the seed corpus, drawn by their frequency, space-separated; a payload as big as a
real chunk's (text, original, pieces). Reported per store: insert (or build) throughput, time until
searchable, dense / BM25 / hybrid (both searches + our RRF) query p50/p95 over 200 queries, peak RSS of
the process (Milvus Lite runs inside it), disk. Sentence vectors are not included (both stores alike).
A Milvus worker that runs past --budget seconds stops inserting and reports how far it got.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.common import latency_stats  # noqa: E402

DIM, TOKENS, QUERIES, BATCH = 384, 100, 200, 2000


def material(n: int, seed: int = 0):
    from rag.lexical import tokenize_many
    from rag.store.folder import Index

    rng = np.random.default_rng(seed)
    index = Index.load(ROOT / "index")
    tokens = [t for doc in tokenize_many([c.text for c in index.chunks]) for t in doc]
    vocab, counts = np.unique(np.array(tokens), return_counts=True)
    p = counts / counts.sum()
    centres = rng.standard_normal((2000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def vectors(m: int) -> np.ndarray:
        v = centres[rng.integers(0, len(centres), m)] + 0.05 * rng.standard_normal((m, DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def texts(m: int) -> list[list[str]]:
        return vocab[rng.choice(len(vocab), (m, TOKENS), p=p)].tolist()

    return vectors, texts


def timed_queries(search, queries) -> dict:
    search(queries[0])
    ms = []
    for q in queries:
        t = time.perf_counter()
        search(q)
        ms.append((time.perf_counter() - t) * 1000)
    return latency_stats(ms)  # p50/p95 (and mean, n) as every other benchmark reports them


def rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def disk_gib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**30, 3)


def worker_faiss(n: int, folder: Path) -> dict:
    import faiss

    from rag.retrieval import rrf, top_k
    from rag.store.bm25 import make_bm25
    from rag.store.dense import make_faiss_index

    vectors_of, texts_of = material(n)
    vectors, tokens = vectors_of(n), texts_of(n)
    queries, query_tokens = vectors_of(QUERIES), [t[:8] for t in texts_of(QUERIES)]
    t = time.perf_counter()
    dense = make_faiss_index(vectors)
    bm25 = make_bm25(tokens)
    build_s = time.perf_counter() - t
    folder.mkdir(parents=True, exist_ok=True)
    faiss.write_index(dense, str(folder / "dense.faiss"))
    bm25.save(str(folder / "bm25"))
    del vectors, tokens

    def dense_search(i):
        return dense.search(queries[i:i + 1], 50)[1][0]

    def bm25_search(i):
        s = np.asarray(bm25.get_scores(query_tokens[i]))
        top = np.argpartition(-s, 49)[:50]
        return top[np.argsort(-s[top])]

    out = {"store": "faiss+bm25s", "chunks": n, "build_s": round(build_s, 1), "chunks_per_s": round(n / build_s),
           "dense": timed_queries(dense_search, range(QUERIES)), "bm25": timed_queries(bm25_search, range(QUERIES)),
           "hybrid": timed_queries(lambda i: top_k(rrf([dense_search(i), bm25_search(i)], [1, 1], 10), 10), range(QUERIES)),
           "index": type(dense).__name__}
    out.update(rss_gib=rss_gib(), disk_gib=disk_gib(folder))
    return out


def worker_milvus(n: int, folder: Path, budget: float) -> dict:
    from rag.store.milvus import connect, create_collections, vector_index
    from rag.retrieval import rrf, top_k

    vectors_of, texts_of = material(n)
    queries, query_tokens = vectors_of(QUERIES), [t[:8] for t in texts_of(QUERIES)]
    client = connect(str(folder / "scale.db"))
    dense = vector_index(n)
    create_collections(client, "scale__v1", DIM, dense)
    began = time.perf_counter()
    inserted = 0
    while inserted < n and time.perf_counter() - began < budget:
        m = min(BATCH, n - inserted)
        vectors, texts = vectors_of(m), texts_of(m)
        rows = [{"row": inserted + i, "vector": vectors[i].tolist(), "lexical": " ".join(texts[i]),
                 "source": f"s{(inserted + i) // 50}.txt",
                 "payload": {"text": "".join(texts[i][:60]), "original": "".join(texts[i][:60]), "title": "标题",
                             "start": 0, "end": 250, "pieces": [[0, 0, 250]], "article": 0, "article_span": [0, 2000]}}
                for i in range(m)]
        client.insert("scale__v1", rows)
        inserted += m
    insert_s = time.perf_counter() - began
    t = time.perf_counter()
    client.flush("scale__v1")
    client.load_collection("scale__v1")
    ready_s = time.perf_counter() - t
    search = dense["search"]

    def dense_search(i):
        hits = client.search("scale__v1", data=[queries[i].tolist()], anns_field="vector", limit=50,
                             output_fields=["payload"], search_params={"metric_type": "IP", "params": search})[0]
        return [h["row"] for h in hits]

    def bm25_search(i):
        hits = client.search("scale__v1", data=[" ".join(query_tokens[i])], anns_field="sparse", limit=50,
                             output_fields=["payload"], search_params={"metric_type": "BM25"})[0]
        return [h["row"] for h in hits]

    out = {"store": "milvus-lite", "chunks": inserted, "asked": n, "stopped_by_budget": inserted < n,
           "insert_s": round(insert_s, 1), "chunks_per_s": round(inserted / insert_s), "flush_load_s": round(ready_s, 1),
           "index": dense, "dense": timed_queries(dense_search, range(QUERIES)),
           "bm25": timed_queries(bm25_search, range(QUERIES)),
           "hybrid": timed_queries(lambda i: top_k(rrf([dense_search(i), bm25_search(i)], [1, 1], 10), 10), range(QUERIES))}
    out.update(rss_gib=rss_gib(), disk_gib=disk_gib(folder))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="100000")
    p.add_argument("--stores", default="faiss,milvus")
    p.add_argument("--budget", type=float, default=1500, help="seconds of inserting per Milvus worker")
    p.add_argument("--out")
    p.add_argument("--worker", nargs=3, metavar=("STORE", "N", "DIR"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        store, n, folder = args.worker
        result = worker_faiss(int(n), Path(folder)) if store == "faiss" else worker_milvus(int(n), Path(folder), args.budget)
        print(json.dumps(result))
        return 0
    results = []
    for n in map(int, args.sizes.split(",")):
        for store in args.stores.split(","):
            folder = Path(tempfile.mkdtemp(prefix=f"rag-scale-{store}-"))
            try:
                done = subprocess.run([sys.executable, __file__, "--budget", str(args.budget), "--worker", store, str(n),
                                       str(folder)], capture_output=True, text=True)
                line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
                result = json.loads(line) if done.returncode == 0 and line else {"store": store, "chunks": n,
                                                                                  "error": done.stderr[-800:]}
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            results.append(result)
            print(json.dumps(result), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
