"""`python -m rag bench`: runs the chosen parts and prints JSON or a Markdown report."""
from __future__ import annotations

import json
import shlex
import sys
import time

from benchmarks.baseline import bench_baseline
from benchmarks.build import bench_build, bench_incremental
from benchmarks.common import load_average, machine
from benchmarks.query import bench_query
from benchmarks.report import format_markdown
from benchmarks.scale import bench_scale
from rag.config import Config

PARTS = ("build", "query", "scale", "ann", "baseline", "incremental")


def command_line(args) -> str:
    """The command that reproduces this run (rebuilt from the parsed flags)."""
    words = ["python", "-m", "rag", "bench"]
    for flag, name in (("--index", "index"), ("--embedder", "embedder"), ("--corpus", "corpus")):
        if getattr(args, name, None):
            words += [flag, str(getattr(args, name))]
    words += ["--parts", ",".join(chosen_parts(args)), "--scale", str(args.scale), "--queries", str(args.queries),
              "--cmrc", str(getattr(args, "cmrc", 0))]
    if getattr(args, "json", False):
        words.append("--json")
    return " ".join(shlex.quote(w) for w in words)


def chosen_parts(args) -> list[str]:
    raw = getattr(args, "parts", None) or "all"
    if raw == "all":
        return list(PARTS)
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        from rag.config import ConfigError

        raise ConfigError(f"unknown bench part(s) {', '.join(unknown)}: choose from {', '.join(PARTS)} or all")
    return [p for p in PARTS if p in parts]


def run_bench(args, config: Config) -> int:
    parts = chosen_parts(args)
    result: dict = {"command": command_line(args), "machine": machine(), "load_avg_start": load_average(),
                    "parts": parts, "config": {"embedder": config.embedder, "index": str(config.index_dir),
                                               "corpus": str(config.corpus_dir), "chunk_size": config.chunk_size,
                                               "batch_size": config.batch_size}}
    began = time.perf_counter()
    runners = {"build": bench_build, "query": bench_query, "baseline": bench_baseline,
               "incremental": bench_incremental}
    for part in parts:
        started = time.perf_counter()
        if part == "scale":
            result["scale"] = bench_scale(config, args, ann="ann" in parts)
        elif part == "ann":
            if "scale" not in parts:
                result["ann"] = {"skipped": "the ann comparison runs inside the scale part: add scale to --parts"}
            continue
        else:
            result[part] = runners[part](config, args)
        result[part]["part_s"] = round(time.perf_counter() - started, 1)
        print(f"bench: {part} done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    result["seconds"] = round(time.perf_counter() - began, 1)
    result["load_avg_end"] = load_average()
    print(json.dumps(result, ensure_ascii=False, indent=2) if getattr(args, "json", False) else format_markdown(result))
    return 0
