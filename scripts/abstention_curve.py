"""Abstention trade-off: the coverage/place rules alone, and with the reader's no-answer margin at each threshold.

    python scripts/abstention_curve.py ../shared/eval/cmrc2018_trial.json ../shared/eval/seed_qa.jsonl

For every question: does the rule-based answer step abstain, and what margin (best span score minus the
no-answer score) does the reader give over what it reads? Prints, per threshold, the share of answerable
questions wrongly abstained and the unanswerable ones caught.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import rag.reader  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.evaluate import load_jsonl, load_squad, squad_pipeline  # noqa: E402
from rag.answer import extract_answer  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.question import analyse, clean_question  # noqa: E402
from rag.retrieval import query_text, retrieve  # noqa: E402


def main() -> None:
    rag.reader.NO_ANSWER_MARGIN = float("-inf")  # never abstain here: record the margin instead
    out = {}
    for path in sys.argv[1:]:
        path = Path(path)
        if path.suffix == ".json":
            articles, sources, qs = load_squad(path)
            pipe = squad_pipeline(path, Config(), articles, sources)
        else:
            qs = load_jsonl(path)
            pipe = Pipeline.load(Config())
        rows = []
        for q in qs:
            text, notes = clean_question(q.question, 500)
            question = analyse(text)
            vec = pipe.embedder.embed_queries([query_text(question)])[0]
            chunks = retrieve(pipe.index, vec, question, pipe.config, k=10)
            ans = extract_answer(question, chunks, 10, pipe.config.abstain_threshold, notes=notes,
                                 source_text=pipe.index.article_text, similarity=pipe.similarity_to(vec), reader=None)
            margin = None
            if not ans.abstained:
                c = ans.chunk
                st = c.text.find(ans.text)
                lo, hi = rag.reader.reading_range(c.text, st, st + len(ans.text))
                sp = pipe.reader.run(text, [c.text[lo:hi]]).spans()
                margin = sp[0].margin if sp else -99
            rows.append({"id": q.id, "answerable": q.source is not None, "rule_abstained": ans.abstained, "margin": margin,
                         "english": not any("\u4e00" <= ch <= "\u9fff" for ch in text)})
        out[path.name] = rows
    for name, rows in out.items():
        print(name, len(rows))
        for t in (-25, -20, -15, -12, -10, -8, -5, 0):
            ab = [r["rule_abstained"] or (r["margin"] is not None and r["margin"] < t) for r in rows]
            ans = [r["answerable"] for r in rows]
            wrong = sum(a and b for a, b in zip(ab, ans)) / max(1, sum(ans))
            caught = sum(a and not b for a, b in zip(ab, ans)), sum(not b for b in ans)
            print(f"  margin<{t}: wrongly abstained {wrong:.3f}, unanswerable abstained {caught[0]}/{caught[1]}")


if __name__ == "__main__":
    main()
