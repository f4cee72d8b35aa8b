"""Mixed questions: the Chinese seed questions with one name romanised, as a reader who knows the name by its
pinyin types it (`平度市培育了多少家农民专业合作社？` → `Pingdu 市培育了多少家农民专业合作社？`).

    python -m benchmarks.mixed_questions [--out benchmarks/data/seed_qa_mixed_dev.jsonl]
    python -m rag eval benchmarks/data/seed_qa_mixed_dev.jsonl --modes hybrid

From benchmarks/data/seed_qa_zh_dev.jsonl and ../shared/eval/seed_qa.jsonl: every Chinese question that names a
place (jieba's dictionary, without its administrative suffix), a person or an organisation (jieba's tags nr, nt)
gets its first such name written in toneless pinyin, capitalised and spaced off (`pypinyin`); the answers, the
source and the unanswerable ones stay as they were. Deterministic: the committed file is its output.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import ROOT, SEED_QA

SOURCES = (ROOT / "benchmarks" / "data" / "seed_qa_zh_dev.jsonl", SEED_QA)


def romanised(question: str) -> str | None:
    """The question with its first name in pinyin, or None when it names nothing (or has no Chinese)."""
    from pypinyin import lazy_pinyin

    from rag.crosslingual import has_chinese
    from rag.lexical import place_names, tagged_words

    if not has_chinese(question):
        return None
    names = place_names(question) + [w for w, tag in tagged_words(question) if tag in ("nr", "nt") and len(w) >= 2]
    if not names:
        return None
    roman = "".join(lazy_pinyin(names[0])).capitalize()
    return " ".join(question.replace(names[0], f" {roman} ", 1).split())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "seed_qa_mixed_dev.jsonl")
    args = parser.parse_args(argv)
    rows = []
    for source in SOURCES:
        if not source.is_file():
            parser.exit(1, f"error: {source} does not exist (the project's data; ../shared/eval for seed_qa)\n")
        for line in source.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            mixed = romanised(row["question"])
            if mixed is not None:
                rows.append({**row, "id": row["id"] + "m", "question": mixed})
    try:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    except OSError as error:
        parser.exit(1, f"error: cannot write {args.out} ({error.strerror}): give --out a path in a folder you can write\n")
    print(f"wrote {len(rows)} questions ({sum(1 for r in rows if r.get('answers'))} answerable) to {args.out}")


if __name__ == "__main__":
    main()
