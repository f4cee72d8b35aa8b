"""Benchmarks of the library, kept out of it: `python -m rag bench` (run from the repository root) runs
benchmarks.run; the milvus_*.py scripts here run on their own.

Parts of `python -m rag bench` (choose with --parts, comma-separated; default all), a module each:
  build        (build.py) throughput per build stage on the corpus (chunks/s), and the embedder's raw throughput
  query        (query.py) latency p50/p95 per query stage and end to end (Pipeline.ask) on the configured index
  scale        (scale.py) the retrieval path (dense + BM25 + fusion) over synthetic corpora (synthetic.py) of
               --scale sizes, each size built in one fresh subprocess and served in another (scale_worker.py)
  ann          at the largest scale size, other FAISS index types side by side with the chosen one
  baseline     (baseline.py) this pipeline vs plain dense-only retrieval over fixed 250-character chunks
  incremental  (build.py) a re-build over unchanged input, and `add` of one new article, in a temporary folder

Shared helpers are in common.py, the Markdown report in report.py.
"""
