"""Bounded load test of the Gradio app on loopback: start `python app.py`, hammer `/ask`, stop it.

    python scripts/loadtest.py                      # 32 clients for 60 s, Markdown summary
    python scripts/loadtest.py --clients 8 --duration 10 --json

What it does, in order:
1. starts `python app.py` on 127.0.0.1 and a free port (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT),
   and waits until the page answers (the app loads the index and the embedder first);
2. asks every seed question once, one at a time: the reference answers;
3. runs N client threads for D seconds; each calls the `/ask` API endpoint (gradio_client) with the seed
   questions in turn, and records latency, failures, and whether "answer" and "short_answer" equal the
   reference (same question → same answer under load);
4. sends a few hostile questions (empty, 100,000 characters, a lone surrogate, HTML) and checks that the
   app still answers afterwards;
5. reads the app's peak RSS (VmHWM in /proc/<pid>/status) and stops the app.

Everything is bounded: the run stops at the deadline or after --max-requests calls, each call has a
timeout, and the app is always killed at the end. Only 127.0.0.1 is ever contacted.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.metrics import percentile  # noqa: E402  (q in [0, 100], as everywhere in the project)

HOST = "127.0.0.1"
DEFAULT_QUESTIONS = ROOT.parent / "shared" / "eval" / "seed_qa.jsonl"
HOSTILE = {
    "empty": "",
    "huge (100,000 chars)": "平度市累计建成了多少万亩高标准农田" * 5_900,
    "lone surrogate": "平度\ud800市累计建成了多少万亩农田？",
    "html": "<script>alert(1)</script>辛安街道辖域面积是多少？",
    "control chars": "平度\x00市\x1b[31m农田",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def memory_kib(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


class App:
    """`python app.py` as a child process on loopback; always stopped by stop()."""

    def __init__(self, port: int, log_path: Path, env_extra: dict[str, str]):
        env = {**os.environ, "GRADIO_SERVER_NAME": HOST, "GRADIO_SERVER_PORT": str(port),
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env_extra}
        self.url = f"http://{HOST}:{port}/"
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with code {self.proc.returncode} before answering (see {self.log.name})")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"app did not answer on {self.url} within {timeout:.0f} s (see {self.log.name})")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def make_client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def call(client, question: str, top_k: int, timeout: float) -> dict:
    job = client.submit(question, top_k, api_name="/ask")
    try:
        result = job.result(timeout=timeout)
    except BaseException:
        job.cancel()
        raise
    if isinstance(result, str):  # some gradio versions hand JSON outputs back as text
        result = json.loads(result)
    if not isinstance(result, dict) or "answer" not in result:
        raise ValueError(f"not an answer dict: {str(result)[:200]}")
    return result


def raw_call(url: str, question: str, top_k: int, timeout: float) -> dict:
    """`/ask` over plain HTTP (Gradio's /gradio_api/call API). The body is ASCII JSON, so a lone surrogate
    travels as the escape \\ud800 exactly as a browser or another client could send it."""
    body = json.dumps({"data": [question, top_k]}, ensure_ascii=True).encode("ascii")
    request = urllib.request.Request(url + "gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event_id}", timeout=timeout) as response:
        stream = response.read().decode("utf-8", "replace")
    event, data = "", ""
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
    if event != "complete":
        raise RuntimeError(f"event {event!r}: {data[:150]}")
    result = json.loads(data)[0]
    if not isinstance(result, dict) or "answer" not in result:
        raise ValueError(f"not an answer dict: {str(result)[:200]}")
    return result


def run(args) -> dict:
    questions = [json.loads(line)["question"] for line in Path(args.questions).read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    port = args.port or free_port()
    app = App(port, Path(args.log), {} if not args.embedder else {"RAG_EMBEDDER": args.embedder})
    report: dict = {"clients": args.clients, "duration_s": args.duration, "questions": len(questions),
                    "url": app.url, "top_k": args.top_k}
    rss_samples: list[int] = []
    stop_sampling = threading.Event()

    def sample_rss():
        while not stop_sampling.wait(0.5):
            rss = memory_kib(app.proc.pid).get("VmRSS")
            if rss:
                rss_samples.append(rss)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    try:
        report["startup_s"] = round(app.wait_ready(args.startup_timeout), 1)
        sampler.start()
        report["rss_after_start_mib"] = round(memory_kib(app.proc.pid).get("VmRSS", 0) / 1024, 1)
        client = make_client(app.url)
        reference, ref_latency = {}, []
        for question in questions:  # without load: one at a time
            started = time.perf_counter()
            result = call(client, question, args.top_k, args.request_timeout)
            ref_latency.append((time.perf_counter() - started) * 1000)
            reference[question] = (result["answer"], result["short_answer"])
        report["unloaded_latency_ms"] = {"p50": round(percentile(ref_latency, 50), 1),
                                         "p95": round(percentile(ref_latency, 95), 1)}

        lock = threading.Lock()
        latencies: list[float] = []
        failures: dict[str, int] = {}
        mismatches: list[dict] = []
        issued = [0]
        deadline = time.monotonic() + args.duration

        def worker(number: int):
            try:
                own = make_client(app.url)
            except Exception as error:  # noqa: BLE001 - counted, not fatal
                with lock:
                    key = f"client setup: {type(error).__name__}"
                    failures[key] = failures.get(key, 0) + 1
                return
            turn = number
            while time.monotonic() < deadline:
                with lock:
                    if issued[0] >= args.max_requests:
                        return
                    issued[0] += 1
                question = questions[turn % len(questions)]
                turn += 1
                started = time.perf_counter()
                try:
                    result = call(own, question, args.top_k, args.request_timeout)
                except Exception as error:  # noqa: BLE001 - every failure is recorded
                    with lock:
                        key = f"{type(error).__name__}: {str(error)[:80]}"
                        failures[key] = failures.get(key, 0) + 1
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                got = (result["answer"], result["short_answer"])
                with lock:
                    latencies.append(elapsed)
                    if got != reference[question]:
                        mismatches.append({"question": question, "expected": reference[question], "got": got})

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(args.clients)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:  # bounded: each call times out, so threads end soon after the deadline
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + args.request_timeout + 30)
        wall = time.monotonic() - began
        report.update({
            "requests": issued[0], "ok": len(latencies), "failed": sum(failures.values()),
            "failures": failures, "wall_s": round(wall, 1),
            "throughput_rps": round(len(latencies) / wall, 2) if wall else None,
            "latency_ms": {"p50": _round(percentile(latencies, 50) if latencies else None),
                           "p95": _round(percentile(latencies, 95) if latencies else None),
                           "max": _round(max(latencies) if latencies else None)},
            "answer_mismatches": len(mismatches), "mismatch_examples": mismatches[:3],
            "threads_still_running": sum(t.is_alive() for t in threads),
        })

        hostile = {}
        for name, question in HOSTILE.items():
            try:
                result = raw_call(app.url, question, args.top_k, args.request_timeout)
                hostile[name] = "abstained" if result.get("abstained") else "answered"
            except Exception as error:  # noqa: BLE001
                hostile[name] = f"error: {type(error).__name__}: {str(error)[:100]}"
        report["hostile"] = hostile
        try:
            after = call(client, questions[0], args.top_k, args.request_timeout)
            report["answers_after_hostile"] = (after["answer"], after["short_answer"]) == reference[questions[0]]
        except Exception as error:  # noqa: BLE001
            report["answers_after_hostile"] = f"error: {type(error).__name__}"
        report["app_alive_at_end"] = app.alive()
        mem = memory_kib(app.proc.pid)
        report["peak_rss_mib"] = round(mem.get("VmHWM", 0) / 1024, 1)
        report["rss_at_end_mib"] = round(mem.get("VmRSS", 0) / 1024, 1)
        report["rss_sampled_max_mib"] = round(max(rss_samples, default=0) / 1024, 1)
    finally:
        stop_sampling.set()
        app.stop()
    report["app_exit_code"] = app.proc.returncode
    return report


def _round(value):
    return round(value, 1) if value is not None else None


def markdown(report: dict) -> str:
    lat, unloaded = report.get("latency_ms", {}), report.get("unloaded_latency_ms", {})
    rows = [
        ("clients × duration", f"{report['clients']} × {report['duration_s']} s (wall {report.get('wall_s')} s)"),
        ("app startup (index + embedder)", f"{report.get('startup_s')} s"),
        ("requests / ok / failed", f"{report.get('requests')} / {report.get('ok')} / {report.get('failed')}"),
        ("throughput", f"{report.get('throughput_rps')} answers/s"),
        ("latency under load p50 / p95 / max", f"{lat.get('p50')} / {lat.get('p95')} / {lat.get('max')} ms"),
        ("latency without load p50 / p95", f"{unloaded.get('p50')} / {unloaded.get('p95')} ms"),
        ("answers differing from the unloaded answer", str(report.get("answer_mismatches"))),
        ("app RSS after start / peak (VmHWM)", f"{report.get('rss_after_start_mib')} / {report.get('peak_rss_mib')} MiB"),
        ("app alive at end / threads left running", f"{report.get('app_alive_at_end')} / {report.get('threads_still_running')}"),
    ]
    lines = ["| measure | value |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows]]
    if report.get("failures"):
        lines += ["", "Failures:", *[f"- {count} × {kind}" for kind, count in report["failures"].items()]]
    if report.get("hostile"):
        lines += ["", "Hostile questions after the load:",
                  *[f"- {name}: {outcome}" for name, outcome in report["hostile"].items()],
                  f"- a normal question afterwards gives the same answer: {report.get('answers_after_hostile')}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="hard cap on calls (default 100000)")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="seconds per call (default 60)")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for the app")
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS), help="JSONL with a 'question' field")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--embedder", default="", help="RAG_EMBEDDER for the app (default: the app's)")
    parser.add_argument("--log", default="/tmp/loadtest-app.log", help="where the app's output goes")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 512 or not 0 < args.duration <= 3600:
        parser.error("--clients must be in [1, 512] and --duration in (0, 3600]")
    report = run(args)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else markdown(report))
    ok = report.get("failed") == 0 and report.get("answer_mismatches") == 0 and report.get("ok", 0) > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
