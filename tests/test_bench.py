"""Smoke test of `python -m rag bench`: every part on tiny sizes with the hash embedder, JSON keys checked."""
from __future__ import annotations

import json

from rag.build import build_index
from rag.cli import main
from rag.config import Config
from tests.conftest import ROOT


def test_bench_smoke(tmp_path, capsys):
    config = Config(corpus_dir=ROOT / "seeds", index_dir=tmp_path / "index", embedder="hash:32")
    build_index(config)
    code = main(["bench", "--json", "--embedder", "hash:32", "--index", str(config.index_dir),
                 "--corpus", str(config.corpus_dir), "--scale", "300,1000", "--queries", "6", "--cmrc", "0",
                 "--parts", "build,query,scale,baseline,incremental"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["command"].startswith("python -m rag bench")
    assert {"nproc", "cpu_model"} <= set(report["machine"])
    assert report["parts"] == ["build", "query", "scale", "baseline", "incremental"]

    build = report["build"]
    assert [s["stage"] for s in build["stages"]] == ["clean", "chunk", "embed", "embed (raw)", "bm25", "faiss"]
    assert build["chunks"] == 130 and "embed_overhead" in build

    stages = {s["stage"]: s for s in report["query"]["stages"]}
    assert set(stages) == {"analyse", "embed", "dense", "bm25", "fusion", "extract", "end_to_end"}
    assert all(s["n"] == 6 and s["p95_ms"] >= s["p50_ms"] >= 0 for s in stages.values())

    scale = report["scale"]
    assert [r["chunks"] for r in scale["results"]] == [300, 1000]
    for row in scale["results"]:
        assert {"dense", "bm25", "fusion", "retrieval"} <= set(row["serve"]["latency"])
        assert row["serve"]["peak_rss_bytes"] > 0 and row["peak_rss_bytes"] > 0
        assert row["disk_bytes"]["faiss"] > 0 and row["disk_bytes"]["bm25"] > 0
        assert row["recall@10_real"] == 1.0  # exact search at these sizes
    assert set(scale["growth_exponent"]) >= {"retrieval_p50", "serve_peak_rss", "disk", "build_s"}
    assert {"retrieval_p50_met", "serve_peak_rss_met", "recall_met"} <= set(scale["targets_at_largest"])

    seed = report["baseline"]["seed"]
    assert seed["questions"] > 0
    assert 0 <= seed["pipeline"]["recall@5"] <= 1 and 0 <= seed["baseline"]["recall@5"] <= 1

    incremental = report["incremental"]
    assert incremental["rebuild_unchanged"]["embedded"] == 0 and incremental["rebuild_embeds_nothing"]
    assert incremental["first_build"]["embedded"] == incremental["first_build"]["chunks"] == 130
    assert incremental["add_one_file"]["embedded"] >= 1


def test_bench_markdown_and_part_selection(tmp_path, capsys):
    config = Config(corpus_dir=ROOT / "seeds", index_dir=tmp_path / "index", embedder="hash:32")
    build_index(config)
    code = main(["bench", "--embedder", "hash:32", "--index", str(config.index_dir), "--corpus",
                 str(config.corpus_dir), "--queries", "3", "--parts", "query"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("# Benchmark") and "python -m rag bench" in out
    assert "## Query latency" in out and "## Scale" not in out and "## Build" not in out
    assert main(["bench", "--parts", "nonsense"]) == 1
