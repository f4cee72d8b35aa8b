"""The Markdown report of `python -m rag bench` (without --json)."""
from __future__ import annotations

from benchmarks.common import TARGET_P50_MS, TARGET_RSS_GIB, TARGET_RECALL, gib, mib


def _table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "–" if v is None else str(v)

    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def _yes(flag: bool) -> str:
    return "met" if flag else "**not met**"


def format_markdown(r: dict) -> str:
    m = r["machine"]
    lines = ["# Benchmark", "", "```", r["command"], "```", "",
             f"Machine: {m.get('nproc')} CPU cores available (`nproc`) of {m.get('cpu_count')}, {m.get('cpu_model')}, "
             f"{m.get('mem_total_gib')} GiB RAM, Python {m.get('python')}, faiss {m.get('faiss')} "
             f"({m.get('faiss_threads')} threads). Load average (1/5/15 min) at start {r['load_avg_start']}, "
             f"at end {r['load_avg_end']}; total {r['seconds']} s.", ""]
    if m.get("free_g"):
        lines += ["```", "$ free -g", m["free_g"], "```", ""]
    if "build" in r:
        b = r["build"]
        lines += [f"## Build throughput ({b['files']} files → {b['articles']} articles → {b['chunks']} chunks, "
                  f"{b['embedder']}, batch {b['batch_size']})", ""]
        lines += _table(["stage", "seconds", "chunks/s", "what"],
                        [[s["stage"], s["seconds"], s["chunks_per_s"], s["note"]] for s in b["stages"]])
        lines += ["", f"Embedding through the pipeline vs the raw embedder: {b['embed_overhead']:+.1%} "
                      f"(median over back-to-back pairs; target within ±{b['embed_overhead_target']:.0%}: "
                      f"{_yes(b['embed_overhead_met'])}; best run vs best run {b['embed_overhead_best_vs_best']:+.1%}). "
                      f"Runs: pipeline {b['embed_runs_s']} s, raw {b['raw_embed_runs_s']} s. "
                      f"Model load {b['model_load_s']} s and jieba init {b['jieba_init_s']} s are not in the table.", ""]
    if "query" in r:
        q = r["query"]
        lines += [f"## Query latency ({q['queries']} queries = {q['unique_questions']} seed questions repeated; "
                  f"index {q['index']}, {q['chunks']} chunks, {q['faiss']})", ""]
        lines += _table(["stage", "p50 ms", "p95 ms", "mean ms", "what"],
                        [[s["stage"], s["p50_ms"], s["p95_ms"], s["mean_ms"], s["note"]] for s in q["stages"]])
        ratio = q.get("ask_over_one_embedding")
        if ratio:
            lines += ["", f"A whole question (Pipeline.ask, reader {q.get('reader')}) over one query embedding in this run: "
                          f"p50 {ratio['p50_ms']}×, p95 {ratio['p95_ms']}×."]
        lines.append("")
    if "scale" in r:
        s = r["scale"]
        lines += ["## Scale (retrieval path: dense search + BM25 + fusion; query embedding excluded)", "",
                  f"Synthetic chunks: {s['synthetic']}. Each size is built in one fresh process and served "
                  "(FAISS + BM25 + passage texts loaded from disk, then queried) in another.", ""]
        rows = []
        for x in s["results"]:
            lat = x["serve"]["latency"]
            rows.append([f"{x['chunks']:,}", x["faiss_type"], lat["retrieval"]["p50_ms"], lat["retrieval"]["p95_ms"],
                         lat["dense"]["p50_ms"], lat["bm25"]["p50_ms"], lat["fusion"]["p50_ms"],
                         f"{lat['sentences']['p50_ms']} / {lat['sentences']['p95_ms']}",
                         gib(x["serve"]["peak_rss_bytes"]), gib(x["peak_rss_bytes"]),
                         mib(x["disk_bytes"]["faiss"]), mib(x["disk_bytes"]["bm25"]), mib(x["disk_bytes"]["texts"]),
                         mib(x["disk_bytes"]["sentences"]),
                         x["faiss_build_s"], x["bm25_build_s"], x["build_s"], x["recall@10_real"],
                         x["recall@10_synthetic"]])
        lines += _table(["chunks", "FAISS", "retrieval p50 ms", "p95 ms", "dense p50", "BM25 p50", "fusion p50",
                         "sentence vectors p50 / p95", "serve peak RSS GiB", "build peak RSS GiB", "FAISS MiB",
                         "BM25 MiB", "texts MiB", "sentences MiB",
                         "FAISS build s", "BM25 build s", "build+save s", "recall@10 real q", "recall@10 synth q"], rows)
        g = s["growth_exponent"]
        lines += ["", "Growth (exponent e in cost ∝ n^e between consecutive sizes; 1 = linear): "
                  + "; ".join(f"{k} {v}" for k, v in g.items()) + ".", ""]
        for x in s["results"]:
            if "exact_flat_search" in x:
                lines.append(f"At {x['chunks']:,} chunks exact (flat) search would take p50 "
                             f"{x['exact_flat_search']['p50_ms']} ms / p95 {x['exact_flat_search']['p95_ms']} ms per query "
                             f"(top-1 cosine of synthetic queries {x['top1_cosine_synthetic_queries']}).")
        t = s["targets_at_largest"]
        x = s["results"][-1]
        per_chunk = x["serve"]["chunk_object_bytes_each"]
        lines += ["", f"Targets at {t['chunks']:,} chunks: retrieval p50 {t['retrieval_p50_ms']} ms ≤ {TARGET_P50_MS:.0f} ms "
                  f"{_yes(t['retrieval_p50_met'])}; serving peak RSS {t['serve_peak_rss_gib']} GiB ≤ {TARGET_RSS_GIB:.0f} GiB "
                  f"{_yes(t['serve_peak_rss_met'])}; recall@10 vs exact {t['recall@10_real']} (real questions) / "
                  f"{t['recall@10_synthetic']} (synthetic queries) ≥ {TARGET_RECALL} {_yes(t['recall_met'])}.",
                  f"Serving holds FAISS + BM25 + the passage texts and memory-maps the sentence vectors (only the "
                  f"pages of retrieved passages are read); a real `Index.load` also makes one `Chunk` object "
                  f"per passage, measured at {per_chunk} bytes each here (≈ {gib(per_chunk * t['chunks'])} GiB more at "
                  f"{t['chunks']:,} chunks), plus sources.json.", ""]
        ann = [x for x in s["results"] if "ann" in x]
        if ann:
            lines += [f"### FAISS index types at {ann[-1]['chunks']:,} chunks", ""]
            lines += _table(["index", "setting", "build s", "size MiB", "recall@10 real q", "recall@10 synth q",
                             "search p50 ms", "search p95 ms"],
                            [[a["index"], a["setting"], a["build_s"], mib(a["bytes"]) if a["bytes"] else None,
                              a["recall@10_real"], a["recall@10_synthetic"], a["search_p50_ms"], a["search_p95_ms"]]
                             for a in ann[-1]["ann"]])
            lines.append("")
    if "baseline" in r:
        b = r["baseline"]
        lines += ["## This pipeline vs a dense-only baseline", "",
                  "Baseline: fixed 250-character windows of the raw file text (no sentence awareness, no titles), the same "
                  "embedder, one IndexFlatIP, no BM25. Pipeline: sentence-aware chunks, hybrid dense + BM25 with RRF. "
                  f"Recall@5: {b['recall']}. Retrieval latency includes the query embedding; "
                  "`ask` adds answer extraction.", ""]
        rows = []
        for key in ("seed", "cmrc"):
            if key in b:
                c = b[key]
                rows.append([c["data"], c["questions"], "pipeline", c["pipeline"]["chunks"], c["pipeline"]["recall@5"],
                             c["pipeline"]["retrieval_p50_ms"], c["pipeline"]["ask_p50_ms"]])
                rows.append([c["data"], c["questions"], "dense baseline", c["baseline"]["chunks"],
                             c["baseline"]["recall@5"], c["baseline"]["retrieval_p50_ms"], None])
        lines += _table(["data", "questions", "system", "chunks", "Recall@5", "retrieval p50 ms", "ask p50 ms"], rows)
        lines.append("")
    if "incremental" in r:
        i = r["incremental"]
        lines += ["## Incremental builds (temporary copy of the corpus and index)", ""]
        lines += _table(["run", "seconds", "chunks", "embedded", "stages (s)"],
                        [[name, i[key]["seconds"], i[key]["chunks"], i[key]["embedded"],
                          ", ".join(f"{k} {v}" for k, v in i[key]["stages_s"].items())]
                         for name, key in (("first build", "first_build"), ("re-build, unchanged input", "rebuild_unchanged"),
                                           ("add one new article file", "add_one_file"))])
        lines += ["", f"Re-build embeds nothing: {_yes(i['rebuild_embeds_nothing'])}; it takes {i['rebuild_vs_first']:.0%} "
                      f"of the first build. {i['note']} (model {i['model_load_s']} s, jieba {i['jieba_init_s']} s).", ""]
    return "\n".join(lines)
