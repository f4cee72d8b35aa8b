"""The reader's training data: SQuAD-format sets read with their answers checked, CMRC 2018 train split by
article into train and validation, and the labelled windows the reader learns from.

Used by scripts/train_reader.py; pure functions over plain dicts (no torch), tested in tests/test_reader_data.py.

A window is what the reader reads when answering: the question and one retrieved passage, cut the way
the index cuts articles (rag.chunking.pack_sentences, 250 characters of whole sentences). A window that
holds the whole answer is labelled with its first and last token; a window without it (another passage of
the same article, or a passage of another article) is labelled (0, 0), the no-answer position, so the
reader's no-answer score carries evidence that abstention can use.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from rag.chunking import pack_sentences
from rag.config import Config

# The reader trains on passages cut as the index cuts them (the defaults of rag.config.Config).
PASSAGE_CHARS = Config.chunk_size
PASSAGE_OVERLAP = Config.chunk_overlap


@dataclass(frozen=True)
class ReadReport:
    """How many questions a SQuAD-format file gave, and what its answer offsets needed."""
    kept: int
    fixed: int  # answer_start did not point at the answer text; the nearest occurrence was used
    dropped: int  # the answer text is not in the passage at all

    def to_dict(self) -> dict:
        return {"kept": self.kept, "fixed": self.fixed, "dropped": self.dropped}


def squad_examples(path: Path, convert=None, questions: dict | None = None) -> tuple[list[dict], ReadReport]:
    """Examples {id, question, context, answers: [{text, start}], article} of a SQuAD-format file.

    `convert` maps every text (OpenCC t2s for DRCD); `questions` replaces questions by id (XQuAD's English
    questions over the Chinese paragraphs). An answer whose answer_start does not point at its text is moved
    to the nearest occurrence of the text (counted as fixed); a question with no answer found is dropped.
    """
    out, fixed, dropped = [], 0, 0
    for number, article in enumerate(json.loads(Path(path).read_text(encoding="utf-8"))["data"]):
        for paragraph in article["paragraphs"]:
            context = convert(paragraph["context"]) if convert else paragraph["context"]
            for qa in paragraph["qas"]:
                answers, moved = [], False
                for answer in qa["answers"]:
                    raw = convert(answer["text"]) if convert else answer["text"]
                    text = raw.strip()  # an answer's edge spaces are no part of it
                    expected = answer["answer_start"] + len(raw) - len(raw.lstrip())
                    start = nearest_occurrence(context, text, expected)
                    if start is None:
                        continue
                    moved |= start != expected
                    answers.append({"text": text, "start": start})
                if not answers:
                    dropped += 1
                    continue
                fixed += moved
                question = questions.get(qa["id"], qa["question"]) if questions else qa["question"]
                out.append({"id": qa["id"], "question": convert(question) if convert else question,
                            "context": context, "answers": answers, "article": number,
                            "title": article.get("title", "")})
    return out, ReadReport(len(out), fixed, dropped)


def nearest_occurrence(context: str, text: str, start: int) -> int | None:
    """`start` if context[start:] begins with text, else the start of the occurrence of text nearest to it."""
    if not text:
        return None
    if context[start:start + len(text)] == text:
        return start
    found, position = [], context.find(text)
    while position >= 0:
        found.append(position)
        position = context.find(text, position + 1)
    return min(found, key=lambda p: abs(p - start)) if found else None


def split_by_article(rows: list[dict], every: int = 10) -> tuple[list[dict], list[dict]]:
    """(train, validation): every `every`-th article (all its questions) is held out for validation."""
    train = [r for r in rows if r["article"] % every]
    held = [r for r in rows if r["article"] % every == 0]
    return train, held


def passages(context: str) -> list[tuple[int, int]]:
    """The passages the index would cut this context into."""
    return pack_sentences(context, PASSAGE_CHARS, PASSAGE_OVERLAP) or [(0, len(context))]


def label(window, a: int, b: int, shift: int = 0) -> tuple[int, int]:
    """Start/end token of the answer [a, b) in a window whose offsets are relative to `shift`; (0, 0) if absent."""
    starts = [i for i, (x, y) in enumerate(window.offsets) if y > x and x + shift <= a < y + shift]
    ends = [i for i, (x, y) in enumerate(window.offsets) if y > x and x + shift < b <= y + shift]
    if starts and ends and starts[0] <= ends[-1]:
        return window.first_context_token + starts[0], window.first_context_token + ends[-1]
    return 0, 0


def passage_windows(row: dict, rtok, max_length: int, stride: int, rng: random.Random, *,
                    same_article_negative: float, other_passage: str | None = None) -> list[tuple]:
    """Windows (ids, start, end) for one question: a passage holding its answer, with probability
    `same_article_negative` one passage of the same context without it, and `other_passage` (a passage of
    another article) as a no-answer window. Where no passage holds the whole answer (it crosses a passage
    boundary), the windows of the whole context that hold it are used instead."""
    answer = row["answers"][0]
    a, b = answer["start"], answer["start"] + len(answer["text"])
    context = row["context"]
    cuts = passages(context)
    holding = [(lo, hi) for lo, hi in cuts if lo <= a and b <= hi]
    out = []
    if holding:
        lo, hi = rng.choice(holding)
        for window in rtok.encode_windows(row["question"], [context[lo:hi]], max_length, stride):
            out.append((window.ids, *label(window, a, b, lo)))
    else:
        for window in rtok.encode_windows(row["question"], [context], max_length, stride):
            start, end = label(window, a, b)
            if end:
                out.append((window.ids, start, end))
    texts = [g["text"] for g in row["answers"]]  # a passage that repeats an answer elsewhere is no negative
    without = [(lo, hi) for lo, hi in cuts if not any(t in context[lo:hi] for t in texts)]
    if without and rng.random() < same_article_negative:
        lo, hi = rng.choice(without)
        window = rtok.encode_windows(row["question"], [context[lo:hi]], max_length, stride)[0]
        out.append((window.ids, 0, 0))
    if other_passage:
        if not any(t in other_passage for t in texts):
            window = rtok.encode_windows(row["question"], [other_passage], max_length, stride)[0]
            out.append((window.ids, 0, 0))
    return out


def training_windows(rows: list[dict], rtok, max_length: int, stride: int, seed: int, *,
                     same_article_negative: float = 0.3, other_article_negative: float = 0.1) -> list[tuple]:
    """Every question's windows (passage_windows); a share `other_article_negative` of the questions also
    gets a passage of another article of the same set as a no-answer window."""
    rng = random.Random(seed)
    contexts = sorted({r["context"] for r in rows})
    out = []
    for row in rows:
        other = None
        if len(contexts) > 1 and rng.random() < other_article_negative:
            context = rng.choice([c for c in rng.sample(contexts, 2) if c != row["context"]])
            lo, hi = rng.choice(passages(context))
            other = context[lo:hi]
        out += passage_windows(row, rtok, max_length, stride, rng, same_article_negative=same_article_negative,
                               other_passage=other)
    return out


def sample(rows: list[dict], n: int, seed: int) -> list[dict]:
    """n rows chosen with a fixed seed (all rows when n is 0 or at least their number)."""
    if not n or n >= len(rows):
        return list(rows)
    return random.Random(seed).sample(rows, n)


def rows_of(work: Path, name: str, limit: int = 0) -> list[dict]:
    """The rows `prepare` wrote to W/name.jsonl (the first `limit` only, when given)."""
    rows = [json.loads(line) for line in open(work / f"{name}.jsonl", encoding="utf-8")]
    return rows[:limit] if limit else rows


def to_squad(rows: list[dict], title: str = "") -> dict:
    """Rows back in SQuAD form (one paragraph per context), for `python -m rag eval` over them as a corpus."""
    by_context: dict[str, list[dict]] = {}
    for row in rows:
        by_context.setdefault(row["context"], []).append(row)
    data = []
    for number, (context, questions) in enumerate(by_context.items()):
        qas = [{"id": r["id"], "question": r["question"],
                "answers": [{"text": a["text"], "answer_start": a["start"]} for a in r["answers"]]} for r in questions]
        data.append({"title": questions[0].get("title", title), "id": f"article-{questions[0]['article']}",
                     "paragraphs": [{"id": f"article-{questions[0]['article']}", "context": context, "qas": qas}]})
    return {"version": "held-out", "data": data}
