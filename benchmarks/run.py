"""`python -m rag bench`: runs the chosen parts and prints JSON or a Markdown report."""
from __future__ import annotations

import json
import shlex
import sys
import time

from benchmarks.baseline import bench_baseline
from benchmarks.build import bench_build, bench_incremental
from benchmarks.common import BenchOptions, load_average, machine
from benchmarks.query import bench_query
from benchmarks.report import format_markdown
from benchmarks.scale import bench_scale
from rag.config import Config



def command_line(options: BenchOptions) -> str:
    """The command that reproduces this run."""
    words = ["python", "-m", "rag", "bench"]
    for flag, value in (("--index", options.index), ("--embedder", options.embedder), ("--corpus", options.corpus)):
        if value:
            words += [flag, value]
    words += ["--parts", ",".join(options.parts), "--scale", ",".join(map(str, options.sizes)),
              "--queries", str(options.queries), "--cmrc", str(options.cmrc)]
    if options.json:
        words.append("--json")
    return " ".join(shlex.quote(w) for w in words)


def run_bench(args, config: Config) -> int:
    """Run the parts `args` (the parsed `python -m rag bench` flags) choose, on `config`."""
    options = BenchOptions.from_args(args)
    parts = options.parts
    result: dict = {"command": command_line(options), "machine": machine(), "load_avg_start": load_average(),
                    "parts": parts, "config": {"embedder": config.embedder, "index": str(config.index_dir),
                                               "corpus": str(config.corpus_dir), "chunk_size": config.chunk_size,
                                               "batch_size": config.batch_size}}
    began = time.perf_counter()
    runners = {"build": bench_build, "query": bench_query, "baseline": bench_baseline,
               "incremental": bench_incremental}
    for part in parts:
        started = time.perf_counter()
        if part == "scale":
            result["scale"] = bench_scale(config, options)
        elif part == "ann":
            if "scale" not in parts:
                result["ann"] = {"skipped": "the ann comparison runs inside the scale part: add scale to --parts"}
            continue
        else:
            result[part] = runners[part](config, options)
        result[part]["part_s"] = round(time.perf_counter() - started, 1)
        print(f"bench: {part} done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    result["seconds"] = round(time.perf_counter() - began, 1)
    result["load_avg_end"] = load_average()
    print(json.dumps(result, ensure_ascii=False, indent=2) if options.json else format_markdown(result))
    return 0
