"""What every benchmark part shares: where the evaluation data lies, the targets, timing and memory
helpers, the machine description and the seed questions."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent  # the repository root
# The evaluation data sits beside the repository, in ../shared/eval (absent: built-in seed questions).
SEED_QA = ROOT.parent / "shared" / "eval" / "seed_qa.jsonl"
CMRC = ROOT.parent / "shared" / "eval" / "cmrc2018_trial.json"
# Targets the report checks (retrieval latency, memory and recall at the largest scale; embedding overhead).
TARGET_P50_MS = 50.0
TARGET_RSS_GIB = 4.0
TARGET_RECALL = 0.98
TARGET_EMBED_OVERHEAD = 0.10


def to_ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def latency_stats(values_ms: Sequence[float]) -> dict:
    values = list(values_ms)
    return {"p50_ms": round(percentile(values, 50), 3), "p95_ms": round(percentile(values, 95), 3),
            "mean_ms": round(sum(values) / len(values), 3) if values else 0.0, "n": len(values)}


def timed(fn: Callable, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def proc_memory(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes (0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    if field == "VmHWM":
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return 0


def folder_bytes(path: Path) -> int:
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def gib(n: float) -> float:
    return round(n / 2**30, 3)


def mib(n: float) -> float:
    return round(n / 2**20, 1)


def machine() -> dict:
    info = {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")]
        info["cpu_model"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        info["mem_total_gib"] = gib(int(next(l for l in meminfo if l.startswith("MemTotal")).split()[1]) * 1024)
    except (OSError, StopIteration):
        pass
    try:
        info["free_g"] = subprocess.run(["free", "-g"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        info["free_g"] = ""
    try:
        import faiss

        info["faiss"] = faiss.__version__
        info["faiss_threads"] = faiss.omp_get_max_threads()
    except ImportError:
        pass
    return info


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


PARTS = ("build", "query", "scale", "ann", "baseline", "incremental")


@dataclass(frozen=True)
class BenchOptions:
    """What `python -m rag bench` was asked to do, validated once (BenchOptions.from_args)."""
    parts: tuple[str, ...] = PARTS  # in PARTS order
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)  # synthetic corpus sizes (chunks), ascending
    queries: int = 200  # questions per latency measurement
    cmrc: int = 200  # CMRC 2018 trial questions for the baseline comparison (0: seed questions only)
    json: bool = False
    index: str | None = None  # as given on the command line, to print the command back
    embedder: str | None = None
    corpus: str | None = None

    @property
    def ann(self) -> bool:
        return "ann" in self.parts

    @classmethod
    def from_args(cls, args) -> "BenchOptions":
        from rag.config import ConfigError

        raw = getattr(args, "parts", None) or "all"
        parts = list(PARTS) if raw == "all" else [p.strip() for p in raw.split(",") if p.strip()]
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            raise ConfigError(f"unknown bench part(s) {', '.join(unknown)}: choose from {', '.join(PARTS)} or all")
        scale = getattr(args, "scale", None) or ",".join(map(str, cls.sizes))
        try:
            sizes = sorted({int(float(s)) for s in str(scale).split(",") if s.strip()})
        except ValueError:
            raise ConfigError(f"--scale must be comma-separated chunk counts, got {scale!r}") from None
        if any(s < 100 for s in sizes):
            raise ConfigError("--scale sizes must be at least 100 chunks")
        given = {name: str(getattr(args, name)) if getattr(args, name, None) else None
                 for name in ("index", "embedder", "corpus")}
        return cls(tuple(p for p in PARTS if p in parts), tuple(sizes), int(getattr(args, "queries", 200)),
                   int(getattr(args, "cmrc", 0) or 0), bool(getattr(args, "json", False)), **given)


def seed_questions(path: Path = SEED_QA):
    """The seed questions (rag.evaluate.EvalQuestion); a few built-in ones when the shared file is absent."""
    from rag.evaluate import EvalQuestion, load_jsonl

    if Path(path).exists():
        return load_jsonl(Path(path))
    return [EvalQuestion("b1", "胶州市探索成立了几个片区联合党委？", ("5个",), "000_4b1c3b504440ce06.txt"),
            EvalQuestion("b2", "平度市累计建成高标准农田多少万亩？", ("155.2万亩",), "004_c4e7dda2531a4b06.txt")]


def repeat_to(items: list, n: int) -> list:
    return [items[i % len(items)] for i in range(max(n, 0))] if items else []
