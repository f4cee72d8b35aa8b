"""Extractive answers: the best sentence across retrieved passages, and a short span inside it.

Nothing is generated: the sentence and the span are copied from the chunk, with file offsets.
Sentence choice weighs how much of the question's content (IDF-weighted jieba tokens and character
bigrams) the sentence holds, plus the passage's retrieval rank. The short span comes from aligning
the question around its question word ("平度市累计建成了[多少]万亩…") with the sentence, and from
typed patterns (numbers with units, dates, places) for questions that ask for those.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from rag.chunking import split_sentences
from rag.lexical import STOPWORDS, normalise, tokenize
from rag.types import Chunk

WH_WORDS = (
    "什么时候", "哪一年", "哪一天", "哪一月", "哪几个", "哪几", "哪一个", "哪一位", "哪些", "哪个", "哪位", "哪里", "哪儿",
    "哪家", "哪座", "哪条", "哪种", "哪国", "哪年", "哪天", "多少", "几个", "几年", "几月", "几日", "几次", "第几", "多久",
    "多长", "多大", "多高", "多远", "多重", "何时", "何地", "何人", "为什么", "为何", "怎么样", "怎样", "如何", "怎么",
    "什么", "啥", "谁", "哪", "几", "多",
)
_WH = re.compile("|".join(map(re.escape, WH_WORDS)))
_NUM = r"(?:\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千万亿]+(?![\u4e00-\u9fff]{0}[年月日]?\d))"
_UNIT = (r"(?:%|‰|万亩|万人|万元|亿元|万吨|平方公里|平方米|公里|千米|公顷|万|亿|千|百)?"
         r"(?:余|多)?(?:%|个|名|人|位|起|吨|亩|元|家|次|年|岁|天|倍|项|所|座|户|件|场|条|台|辆|处|类|种|批|届|份|期|轮|"
         r"栋|间|米|斤|克|分钟|小时|秒|周|月|日|号|层|枚|只|头|株|棵|本|部|首|篇|张|支|队|组|村|镇|区|县|市|省|国|亿|万)?")
_NUMBER_SPAN = re.compile(rf"(?:约|近|超过|共|达)?{_NUM}{_UNIT}")
_DATE_SPAN = re.compile(r"(?:\d{2,4}年)?(?:\d{1,2}月)?(?:\d{1,2}[日号])?|每月\d{1,2}[日号]|[一二三四五六七八九十]+世纪[\u4e00-\u9fff]{0,4}年代")
_TRIM = "，,。；;：:、 \n“”\"'（）()《》！？!?"
_LEAD_PARTICLES = "是为了有在于将被把由让给共约达"
_PLACE_SUFFIX = re.compile(r"哪(?:个|一个|座|家|所)?([区市县省镇街道村国州城部局厂店队校院馆])")
_COUNT_WORDS = ("多少", "几个", "几", "多大", "多高", "多长", "多远", "多重", "多久", "第几", "几次", "几年")
_DATE_WORDS = ("哪一年", "哪年", "什么时候", "何时", "哪一天", "哪天", "几月", "几日", "哪一月", "日期", "时间")


@dataclass(frozen=True)
class SentenceHit:
    chunk: Chunk
    rank: int  # 0-based rank of the chunk among the retrieved
    start: int  # sentence offsets within chunk.text
    end: int
    score: float
    coverage: float  # share of the question's content found in the sentence, 0..1


def question_terms(question: str) -> list[str]:
    return list(dict.fromkeys(tokenize(question)))


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\W+", "", text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


def idf_weights(terms: Sequence[str], chunks: Sequence[Chunk]) -> dict[str, float]:
    """IDF of each term over the retrieved passages (smoothed), so rare topical words count most."""
    n = len(chunks) or 1
    texts = [normalise(c.title + c.text) for c in chunks]
    return {t: math.log(1 + (n + 1) / (1 + sum(t in text for text in texts))) for t in terms}


def score_sentences(question: str, chunks: Sequence[Chunk]) -> list[SentenceHit]:
    """Every sentence of the retrieved chunks, scored against the question, best first."""
    terms = question_terms(question)
    weights = idf_weights(terms, chunks)
    total = sum(weights.values()) or 1.0
    q_bigrams = _bigrams(normalise(question)) - {w for w in _bigrams("".join(STOPWORDS))}
    hits = []
    for rank, chunk in enumerate(chunks):
        for start, end in split_sentences(chunk.text):
            sentence = normalise(chunk.text[start:end])
            term_cover = sum(w for t, w in weights.items() if t in sentence) / total
            bigram_cover = len(q_bigrams & _bigrams(sentence)) / (len(q_bigrams) or 1)
            coverage = 0.6 * term_cover + 0.4 * bigram_cover
            score = coverage + 0.08 / (1 + rank) - 0.0005 * max(0, end - start - 120)
            hits.append(SentenceHit(chunk, rank, start, end, score, coverage))
    return sorted(hits, key=lambda h: (-h.score, h.rank, h.start))


def _split_question(question: str) -> tuple[str, str, str]:
    q = question.strip().rstrip("？?。.!！ ")
    match = _WH.search(q)
    if not match:
        return q, "", ""
    return q[: match.start()], match.group(), q[match.end():]


def _find_left_anchor(left: str, sentence: str) -> tuple[int, int]:
    """End position in sentence of the longest suffix of `left` found there, and that suffix's length."""
    for size in range(min(len(left), 12), 1, -1):
        pos = sentence.find(left[-size:])
        if pos >= 0:
            return pos + size, size
    return -1, 0


def _find_right_anchor(right: str, sentence: str, after: int) -> tuple[int, int]:
    """Start in sentence (at or after `after`) of the longest prefix of `right` (skipping ≤2 lead chars)."""
    best = (-1, 0)
    for skip in range(0, min(3, len(right))):
        part = right[skip:]
        for size in range(min(len(part), 12), 1, -1):
            pos = sentence.find(part[:size], max(after, 0))
            if pos >= 0:
                if size > best[1]:
                    best = (pos, size)
                break
    return best


def _typed_spans(wh: str, right: str, question: str, sentence: str) -> list[tuple[int, int]]:
    if any(w in question for w in _DATE_WORDS):
        spans = [m.span() for m in _DATE_SPAN.finditer(sentence) if m.end() - m.start() >= 2]
        if spans:
            return spans
    if wh in _COUNT_WORDS or "比例" in question or "百分" in question:
        unit = re.match(r"[\u4e00-\u9fff%]{1,4}", right)
        spans = []
        for m in _NUMBER_SPAN.finditer(sentence):
            if not re.search(r"[\d零〇一二两三四五六七八九十百千万亿]", m.group()):
                continue
            start, end = m.span()
            # Extend over the unit the question names ("多少万亩" → "155.2万亩").
            if unit:
                for size in range(len(unit.group()), 0, -1):
                    if sentence.startswith(unit.group()[:size], end):
                        end += size
                        break
            if wh == "第几" and sentence[max(0, start - 1):start] == "第":
                start -= 1
            spans.append((start, end))
        return spans
    place = _PLACE_SUFFIX.search(question)
    if place:
        return [m.span() for m in re.finditer(rf"[\u4e00-\u9fff]{{1,6}}?{place.group(1)}", sentence)]
    return []


def short_span(question: str, sentence: str) -> tuple[int, int]:
    """(start, end) of the short answer within sentence, or (-1, -1) if none is found."""
    q = normalise(question)
    s = normalise(sentence)
    if len(s) != len(sentence):  # NFKC changed the length: align on the raw text instead
        s = sentence
    left, wh, right = _split_question(q)
    if not wh:
        return -1, -1
    left_end, left_size = _find_left_anchor(left, s)
    right_start, right_size = _find_right_anchor(right, s, max(left_end, 0))
    lo = left_end if left_end >= 0 else 0
    hi = right_start if right_start > lo else -1
    if hi < 0:  # no right context: the answer runs to the end of the clause
        clause = re.search(r"[，,。；;！？!?]", s[lo:]) if lo < len(s) else None
        hi = lo + clause.start() if clause else len(s)
        if left_end < 0 and right_start >= 0:
            hi = right_start
            lo = max(0, max(s.rfind(c, 0, hi) for c in "，,；;：:") + 1)
    typed = _typed_spans(wh, right, q, s)
    if typed:
        # The typed span nearest the aligned gap (or inside it) wins.
        def distance(span):
            a, b = span
            if a >= lo and b <= hi + 4:
                return 0
            return min(abs(a - lo), abs(a - hi), abs(b - hi))
        a, b = min(typed, key=distance)
        if distance((a, b)) <= 30:
            return _trim(s, a, b)
    if left_size + right_size == 0:
        return -1, -1
    a, b = _trim(s, lo, hi)
    while a < b and s[a] in _LEAD_PARTICLES and b - a > 2:
        a += 1
    if b - a <= 0 or b - a > 40:
        return -1, -1
    return a, b


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in _TRIM:
        a += 1
    while b > a and text[b - 1] in _TRIM:
        b -= 1
    return a, b
