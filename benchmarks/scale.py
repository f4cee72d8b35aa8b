"""Part `scale` (and `ann`): the retrieval path (dense + BM25 + fusion) over synthetic corpora of the
--scale sizes, each size built in one fresh subprocess and served (loaded and queried) in another."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, BenchOptions, TARGET_P50_MS, TARGET_RECALL, TARGET_RSS_GIB, gib, load_average
from benchmarks.synthetic import TOKENS_PER_SYNTHETIC_CHUNK, query_set
from rag.config import Config


def run_worker(args: list[str]) -> dict:
    command = [sys.executable, "-m", "benchmarks.scale_worker", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _growth(sizes: list[int], values: list[float]) -> list:
    """Exponent e in cost ∝ n^e between consecutive sizes (1 = linear, 0 = flat)."""
    out = []
    for (n1, v1), (n2, v2) in zip(zip(sizes, values), zip(sizes[1:], values[1:])):
        out.append(round(math.log(v2 / v1) / math.log(n2 / n1), 2) if v1 and v2 and v1 > 0 and v2 > 0 else None)
    return out


def bench_scale(config: Config, options: BenchOptions) -> dict:
    sizes, ann = list(options.sizes), options.ann
    results = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-scale-") as tmp:
        tmp = Path(tmp)
        queries = query_set(config, config.index_dir, tmp)
        for n in sizes:
            workdir = tmp / f"n{n}"
            workdir.mkdir()
            started = time.perf_counter()
            built = run_worker(["scale-build", "--size", str(n), "--dir", str(workdir), "--index", str(config.index_dir),
                             "--queries", str(queries)] + (["--ann"] if ann and n == sizes[-1] else []))
            served = run_worker(["scale-serve", "--dir", str(workdir), "--queries", str(queries),
                              "--n", str(options.queries)])
            results.append({**built, "serve": served, "wall_s": round(time.perf_counter() - started, 1),
                            "load_avg": load_average()})
            shutil.rmtree(workdir, ignore_errors=True)
    growth = {
        "retrieval_p50": _growth(sizes, [r["serve"]["latency"]["retrieval"]["p50_ms"] for r in results]),
        "dense_p50": _growth(sizes, [r["serve"]["latency"]["dense"]["p50_ms"] for r in results]),
        "bm25_p50": _growth(sizes, [r["serve"]["latency"]["bm25"]["p50_ms"] for r in results]),
        "serve_peak_rss": _growth(sizes, [r["serve"]["peak_rss_bytes"] for r in results]),
        "disk": _growth(sizes, [sum(r["disk_bytes"].values()) for r in results]),
        "build_s": _growth(sizes, [r["build_s"] for r in results]),
    }
    largest = results[-1]
    targets = {
        "chunks": largest["chunks"],
        "retrieval_p50_ms": largest["serve"]["latency"]["retrieval"]["p50_ms"],
        "retrieval_p50_met": largest["serve"]["latency"]["retrieval"]["p50_ms"] <= TARGET_P50_MS,
        "serve_peak_rss_gib": gib(largest["serve"]["peak_rss_bytes"]),
        "serve_peak_rss_met": largest["serve"]["peak_rss_bytes"] <= TARGET_RSS_GIB * 2**30,
        "recall@10_real": largest["recall@10_real"], "recall@10_synthetic": largest["recall@10_synthetic"],
        "recall_met": min(largest["recall@10_real"], largest["recall@10_synthetic"]) >= TARGET_RECALL,
    }
    return {"sizes": sizes, "results": results, "growth_exponent": growth, "targets_at_largest": targets,
            "synthetic": ("vector = normalise(w·v_a + (1-w)·v_b + isotropic noise of norm ≈0.25), a, b real chunks of "
                          f"{config.index_dir}, w ~ U(0.2, 0.8); text = {TOKENS_PER_SYNTHETIC_CHUNK} jieba tokens drawn "
                          "from a's and b's tokens (by w), 10% from the whole corpus")}
