"""The reader alone, given the gold passage: CMRC-metric EM/F1 of its best span on SQuAD-format data.

    python scripts/score_reader.py ../shared/eval/cmrc2018_trial.json [--reader models/reader-zh] [--limit N] [--short-gold] [--units]

--units scores the span as the app shows it as the short answer: with the measure word or unit that follows its
number (rag.spans.with_unit: `128` → `128起`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.evaluate import SHORT_GOLD_CHARS  # noqa: E402
from rag.metrics import cmrc_em, cmrc_f1, percentile  # noqa: E402
from rag.reader import load_reader  # noqa: E402
from rag.spans import with_unit  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--reader", default=str(ROOT / "models" / "reader-zh"))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--short-gold", action="store_true",
                        help=f"only questions whose shortest gold answer has <= {SHORT_GOLD_CHARS} characters")
    parser.add_argument("--units", action="store_true", help="extend a span that ends in a number over its unit, as the app does")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.exit(1, f"error: {args.data} does not exist (SQuAD-format JSON, e.g. ../shared/eval/cmrc2018_trial.json)\n")
    reader = load_reader(args.reader)
    items = [(qa, p["context"]) for a in json.loads(args.data.read_text(encoding="utf-8"))["data"]
             for p in a["paragraphs"] for qa in p["qas"]]
    if args.short_gold:
        items = [(qa, context) for qa, context in items if min(len(a["text"]) for a in qa["answers"]) <= SHORT_GOLD_CHARS]
    items = items[:args.limit] if args.limit else items
    em = f1 = 0.0
    times = []
    for qa, context in items:
        started = time.perf_counter()
        spans = reader.read(qa["question"], [context])
        times.append((time.perf_counter() - started) * 1000)
        start, end = (spans[0].start, spans[0].end) if spans else (0, 0)
        if args.units:
            start, end = with_unit(context, start, end)
        prediction = context[start:end]
        golds = [a["text"] for a in qa["answers"]]
        em += cmrc_em(prediction, golds)
        f1 += cmrc_f1(prediction, golds)
    n = len(items) or 1
    print(f"{args.data.name}: {len(items)} {'short-gold ' if args.short_gold else ''}questions, reader {args.reader}, gold passage given: "
          f"{'with units: ' if args.units else ''}EM {em / n:.3f} F1 {f1 / n:.3f}; read p50 {percentile(times, 50):.0f} ms (whole passage)")


if __name__ == "__main__":
    main()
