"""Fit how the reader's spans become the answer (rag/spans.py constants) on held-back CMRC articles.

    python scripts/fit_reader_answer.py .cache/reader-train/cmrc2018_val.json [--limit N] [--reader DIR]

The data is SQuAD-style (the validation articles that scripts/train_reader.py holds back from training,
written by its `prepare` step); its passages are indexed as a corpus, as `python -m rag eval` does. Each
question is asked twice: over what retrieval finds (answerable) and over what it finds once the
question's own article is taken out (unanswerable: the right reply is to abstain). The reader reads each
passage once; the sweep then replays rag.spans on the stored spans for every setting:
- passages read (READ_PASSAGES), RANK_WEIGHT and SENTENCE_WEIGHT: by the F1 of the reader's chosen span;
- SHOW_PROBABILITY: the lowest threshold at which the short answers shown have EM >= 0.75;
- NO_ANSWER_MARGIN: the abstention curve (answerable wrongly abstained vs unanswerable caught).
Prints the tables and writes them to --out (JSON) for the README.
"""
from __future__ import annotations

import argparse
import itertools
import json
import pickle
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Config  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.metrics import cmrc_em, cmrc_f1  # noqa: E402
from rag.spans import combine, sentence_around, trimmed  # noqa: E402

MAX_READ = 5


def collect(data: Path, config: Config, limit: int) -> list[dict]:
    """Per question: gold, retrieved passages (answerable and without the own article), sentence hits,
    coverage, whether the place rule abstains, and the reader's spans per passage read."""
    from rag.evaluate import load_squad, squad_pipeline
    from rag.lexical import normalise
    from rag.question import analyse
    from rag.retrieval import query_text, retrieve
    from rag.sentences import score_sentences

    articles, sources, questions = load_squad(data)
    pipeline = squad_pipeline(data, config, articles, sources)
    questions = questions[:limit] if limit else questions
    rows, started = [], time.time()
    for n, q in enumerate(questions):
        question = analyse(q.question)
        vector = pipeline.embedder.embed_queries([query_text(question)])[0]
        found = retrieve(pipeline.index, vector, question, config, k=16, mode="hybrid")
        sets = {"answerable": found[:10], "unanswerable": [c for c in found if c.source != q.source][:10]}
        read = {c.id: c for s in sets.values() for c in s[:MAX_READ]}
        ids = list(read)
        spans = pipeline.reader.run(question.simplified, [read[i].text for i in ids]).spans(per_window=5)
        row = {"id": q.id, "golds": list(q.answers), "source": q.source, "chinese": question.chinese}
        for name, chunks in sets.items():
            hits = score_sentences(question, chunks, pipeline.similarity_to(vector))
            position = {c.id: r for r, c in enumerate(chunks[:MAX_READ])}
            place_ok = True
            if question.places and hits:
                top = chunks[0]
                context = normalise(top.title + pipeline.index.article_text(top))
                place_ok = all(p in context for p in question.places)
            row[name] = {
                "chunks": [(c.source, c.text) for c in chunks], "hits": hits,
                "coverage": max((h.coverage for h in hits), default=0.0), "place_ok": place_ok,
                "spans": [s.__class__(position[ids[s.context_index]], s.start, s.end, s.score, s.null_score, s.probability)
                          for s in spans if ids[s.context_index] in position],
            }
        rows.append(row)
        if (n + 1) % 50 == 0:
            print(f"  {n + 1}/{len(questions)} questions, {time.time() - started:.0f} s", flush=True)
    return rows


def choose(side: dict, read: int, rank_weight: float, sentence_weight: float):
    spans = [s for s in side["spans"] if s.context_index < read]
    return combine(spans, side["hits"], list(range(read)), rank_weight, sentence_weight)


def replay(rows, read, rank_weight, sentence_weight) -> list[dict]:
    out = []
    for row in rows:
        side = row["answerable"]
        candidates = choose(side, read, rank_weight, sentence_weight)
        if not candidates:
            out.append({"span_f1": 0.0, "hit": False, "prob": 0.0, "margin": -1e9, "shown_em": 0.0, "sentence": ""})
            continue
        pick = candidates[0]
        source, text = side["chunks"][pick.rank]
        a, b = sentence_around(text, pick.span.start, pick.span.end)
        short = trimmed(text, pick.span.start, pick.span.end)
        span_text = text[short[0]:short[1]] if short else ""
        out.append({"span_f1": cmrc_f1(span_text, row["golds"]), "span_em": cmrc_em(span_text, row["golds"]),
                    "hit": source == row["source"] and any(g in text[a:b] for g in row["golds"]),
                    "sentence_f1": cmrc_f1(text[a:b], row["golds"]), "sentence_em": cmrc_em(text[a:b], row["golds"]),
                    "prob": pick.span.probability, "margin": max(c.margin for c in candidates)})
    return out


def unanswerable_margins(rows, read, rank_weight, sentence_weight) -> list[float]:
    margins = []
    for row in rows:
        candidates = choose(row["unanswerable"], read, rank_weight, sentence_weight)
        margins.append(max((c.margin for c in candidates), default=-1e9))
    return margins


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--reader", default="bundled")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "fit-reader-answer.pkl")
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "fit-reader-answer.json")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        train = shlex.quote(str(ROOT / "scripts" / "train_reader.py"))
        parser.exit(1, f"error: {args.data} does not exist; write it with `python {train} prepare`\n")
    config = Config.from_env().with_(reader=args.reader)
    key = f"{args.data.resolve()}|{args.limit}|{args.reader}"
    if args.cache.is_file() and pickle.loads(args.cache.read_bytes())["key"] == key:
        rows = pickle.loads(args.cache.read_bytes())["rows"]
    else:
        try:
            rows = collect(args.data, config, args.limit)
        except RagError as error:
            parser.exit(1, f"error: {error}\n")
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_bytes(pickle.dumps({"key": key, "rows": rows}))
    report = {"data": str(args.data), "questions": len(rows), "reader": args.reader, "selection": []}
    print(f"{len(rows)} questions; passages read | rank weight | sentence weight | span F1 | span EM | sentence hit")
    best = None
    for read, rank_weight, sentence_weight in itertools.product(range(1, MAX_READ + 1), (0.0, 0.5, 1.0, 2.0, 4.0), (0.0, 0.25, 0.5, 1.0)):
        result = replay(rows, read, rank_weight, sentence_weight)
        f1 = float(np.mean([r["span_f1"] for r in result]))
        line = {"read": read, "rank_weight": rank_weight, "sentence_weight": sentence_weight, "span_f1": round(f1, 4),
                "span_em": round(float(np.mean([r.get("span_em", 0) for r in result])), 4),
                "sentence_hit": round(float(np.mean([r["hit"] for r in result])), 4)}
        report["selection"].append(line)
        if best is None or f1 > best[0] + 1e-9:
            best = (f1, line)
    for line in report["selection"]:
        if line["rank_weight"] in (0.0, 1.0, best[1]["rank_weight"]) and line["sentence_weight"] in (0.0, best[1]["sentence_weight"]):
            print(" | ".join(str(line[k]) for k in ("read", "rank_weight", "sentence_weight", "span_f1", "span_em", "sentence_hit")))
    chosen = best[1]
    print("chosen:", chosen)
    result = replay(rows, chosen["read"], chosen["rank_weight"], chosen["sentence_weight"])
    report["chosen"] = chosen
    report["show"] = []
    print("show threshold | shown | EM shown | F1 of what is read first | EM of it")
    for threshold in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        shown = [r["prob"] >= threshold for r in result]
        em_shown = np.mean([r["span_em"] for r, s in zip(result, shown) if s]) if any(shown) else 0.0
        first_f1 = np.mean([r["span_f1"] if s else r["sentence_f1"] for r, s in zip(result, shown)])
        first_em = np.mean([r["span_em"] if s else r["sentence_em"] for r, s in zip(result, shown)])
        line = {"threshold": threshold, "shown": round(float(np.mean(shown)), 4), "em_shown": round(float(em_shown), 4),
                "f1_first": round(float(first_f1), 4), "em_first": round(float(first_em), 4)}
        report["show"].append(line)
        print(" | ".join(str(v) for v in line.values()))
    unanswerable = unanswerable_margins(rows, chosen["read"], chosen["rank_weight"], chosen["sentence_weight"])
    answerable = [r["margin"] for r in result]
    report["abstention"] = []
    print("no-answer margin | answerable wrongly abstained | unanswerable caught (reader rule alone; with coverage rule)")
    threshold = Config.from_env().abstain_threshold
    cov_a = [row["answerable"]["coverage"] < threshold or not row["answerable"]["place_ok"] for row in rows]
    cov_u = [row["unanswerable"]["coverage"] < threshold or not row["unanswerable"]["place_ok"] for row in rows]
    for margin in (-20, -15, -10, -8, -6, -4, -2, 0, 2):
        wrong = np.mean([m < margin for m in answerable])
        caught = np.mean([m < margin for m in unanswerable])
        wrong_all = np.mean([m < margin or c for m, c in zip(answerable, cov_a)])
        caught_all = np.mean([m < margin or c for m, c in zip(unanswerable, cov_u)])
        line = {"margin": margin, "wrongly_abstained": round(float(wrong), 4), "caught": round(float(caught), 4),
                "wrongly_abstained_with_rules": round(float(wrong_all), 4), "caught_with_rules": round(float(caught_all), 4)}
        report["abstention"].append(line)
        print(" | ".join(str(v) for v in line.values()))
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
