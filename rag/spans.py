"""From the reader's spans to the answer: which span, the sentence that holds it, whether it is shown as
the short answer, and whether the reader's evidence says the passages do not answer.

The reader (rag.reader.load_reader) reads the top READ_PASSAGES retrieved passages whole, in one batch,
and proposes SPANS_PER_WINDOW spans in each window. Each span's reader score (start + end logit) is
combined with the retrieval evidence: the passage's rank and the sentence scorer's score for the
sentence that holds the span (rag.sentences). The best combined span is the answer; its sentence is the
answer sentence. Pure functions over ReaderSpan and SentenceHit; the constants are fitted on CMRC 2018
train articles held back from the reader's training (`python scripts/fit_reader_answer.py`, README
"How the reader answers").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from rag.chunking import answer_sentences
from rag.reader_model import ReaderSpan
from rag.sentences import SentenceHit

# Fitted on 300 held-back CMRC train questions (`python scripts/fit_reader_answer.py`, README "How the reader
# answers"): rank 0.5 and sentence 0.5 gave the best span F1 (0.695 reading 2 passages, 0.689 reading 3);
# 3 passages, because on seed_qa the answer's passage is often third (sentence hit 0.867 vs 0.800).
READ_PASSAGES = 3
SPANS_PER_WINDOW = 3
RANK_WEIGHT = 0.5  # reader logits lost per retrieval rank
SENTENCE_WEIGHT = 0.5  # reader logits gained per point of sentence score (relative to the best sentence)
# P(start)·P(end) from which the span is shown. Validation: 0.3 gives the best F1 of what is read first (0.717 vs
# 0.646 at 0.8) with EM 0.475 where shown; EM >= 0.75 where shown needs 0.8 and shows 15 % (seed_qa F1 0.38).
SHOW_PROBABILITY = 0.3
# An English question: the reader reads Chinese passages less surely, and the sentence scorer's e5 similarity
# carries the question's meaning, so the sentence counts for more (seed_qa_en; the seeds' English tests).
ENGLISH_SENTENCE_WEIGHT = 2.0
# Best span − no-answer score below this: no answer. Chosen on all 1,035 held-back validation questions (`python
# scripts/fit_reader_answer.py .cache/reader-train/cmrc2018_val.json`, with the coverage and place rules): −6 loses
# 1.55 % of the answerable and catches 68.9 % of the unanswerable pairs, −8 1.35 % / 63.4 %, −4 2.13 % / 75.5 % (three
# times the loss of the step before for a like gain). README "How the reader answers".
NO_ANSWER_MARGIN = -6.0
# A question without Chinese text has no coverage rule to back it. −8 while the reader read the English words; −6
# since it reads the passages' own words for them (rag.crosslingual.reader_question), which makes it surer of
# unanswerable questions too (`How long is the Jiaozhou Bay Bridge?`: −10.1 → −6.4). Calibrated with `python -m
# benchmarks.crosslingual --answer 100 --every 2` (README, Questions in English): at −6 no right answer of
# seed_qa_en or the dev set is lost and every unanswerable one is caught (at −8 that question is answered);
# XQuAD 0.39 of the unanswerable caught (0.37 at −8).
ENGLISH_NO_ANSWER_MARGIN = -6.0
# ... unless the answer's article holds most of what the question was understood as (rag.crosslingual.support):
# the reader reads English over Chinese less surely, and right answers to English questions it never saw in
# training fall to margin −13 (seed_qa_en's q28e; the dev set's `Which day of each month…`), while unanswerable
# ones over articles that hold their words score −10 to −20. Calibrated with `python -m benchmarks.crosslingual
# --answer 100 --every 2` (README, Questions in English). −13 since the reader reads the passages' own words: its
# right answers over such articles now score −12.4 at the lowest (the dev set's m14), and `When did Qingdao Metro
# Line 1 open?` (an article holding 0.75 of it, no metro) −13.8.
ENGLISH_SUPPORTED_SHARE = 0.7
ENGLISH_SUPPORTED_MARGIN = -13.0
# An English question that names something the corpus has no word for and that tells nothing either way
# (rag.crosslingual.Unit.telling: `Broncos` over the seeds) is answered only where the reader prefers a span to
# no answer. Calibrated with `python -m benchmarks.crosslingual --answer 100 --every 2`: on XQuAD 0.43 of the
# unanswerable questions caught instead of 0.40, 0.09 of the answerable abstained instead of 0.07, none answered
# right lost; over the seeds `Who won the Super Bowl for the Broncos?` (margin −6.6) is no longer answered.
UNKNOWN_NAME_MARGIN = 0.0
_EDGE = "，,。；;：:、 \n“”\"'（）()！？!?《》"
_EDGE_PAIRS = {"《": "》", "“": "”", "（": "）", "(": ")"}


@dataclass(frozen=True)
class Candidate:
    """A reader span with its evidence; `combined` orders the candidates."""
    span: ReaderSpan  # offsets into the text of the passage it was read from
    rank: int  # retrieval rank of that passage (0: first)
    sentence_score: float  # the sentence scorer's score of the sentence holding it, minus the best one's
    combined: float

    @property
    def margin(self) -> float:
        return self.span.margin


def combine(spans: Sequence[ReaderSpan], hits: Sequence[SentenceHit], ranks: Sequence[int],
            rank_weight: float | None = None, sentence_weight: float | None = None) -> list[Candidate]:
    """Candidates best first. `ranks[i]` is the retrieval rank of the i-th passage read; `hits` are the
    scored sentences of the retrieved passages (rank = retrieval rank). Weights default to the fitted ones."""
    rank_weight = RANK_WEIGHT if rank_weight is None else rank_weight
    sentence_weight = SENTENCE_WEIGHT if sentence_weight is None else sentence_weight
    best_sentence = max((h.score for h in hits), default=0.0)
    by_rank: dict[int, list[SentenceHit]] = {}
    for hit in hits:
        by_rank.setdefault(hit.rank, []).append(hit)
    out = []
    for span in spans:
        rank = ranks[span.context_index]
        holding = [h.score for h in by_rank.get(rank, ()) if h.start <= span.start < h.end]
        relative = (max(holding) if holding else best_sentence) - best_sentence
        out.append(Candidate(span, rank, relative, span.score - rank_weight * rank + sentence_weight * relative))
    return sorted(out, key=lambda c: -c.combined)


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The answer sentence(s) of text that hold text[start:end]."""
    sentences = [(a, b) for a, b in answer_sentences(text) if a < end and start < b]
    if not sentences:
        return start, end
    return min(start, sentences[0][0]), max(end, sentences[-1][1])


def trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without punctuation or spaces at its edges (brackets kept where both are inside), or None."""
    while start < end and text[start] in _EDGE and not _closes_inside(text, start, end):
        start += 1
    while end > start and text[end - 1] in _EDGE and not _opens_inside(text, start, end):
        end -= 1
    return (start, end) if end > start else None


# What follows a number in a Chinese answer. CMRC 2018's annotators include it: of its training set's gold answers
# that are a number and at most two more characters, 667 end in a unit (1960年, 39个, 26公分) and 2 in the digit.
# So do the seeds' (128起, 19家, 3400余名); but the reader can end its span at the digits (its pieces split 128|起).
_UNIT_AFTER_NUMBER = re.compile(
    r"[余多]?(?:[十百千万亿]+[余多]?)?"
    r"(?:平方公里|平方千米|平方米|立方米|公里|千米|厘米|毫米|公斤|千克|公顷|公分|公尺|人次|件次|户次|年代|世纪|小时|分钟"
    r"|美元|港元|欧元|英镑|日元|%|％|‰|[年月日号天周岁秒个人名家起项户件次条座所位台辆部本册篇场届倍米克斤吨亩元层处张股只头株棵种批期度分])")


def with_unit(text: str, start: int, end: int) -> tuple[int, int]:
    """The span with the measure word or unit that follows its number (`128` → `128起`, `155.2` → `155.2万亩`,
    `2020年6` → `2020年6月`); a span that does not end in a digit is returned as it is."""
    if end <= start or not text[end - 1].isdigit():
        return start, end
    match = _UNIT_AFTER_NUMBER.match(text, end)
    return (start, match.end()) if match else (start, end)


def _closes_inside(text: str, start: int, end: int) -> bool:
    closing = _EDGE_PAIRS.get(text[start])
    return closing is not None and closing in text[start + 1:end]


def _opens_inside(text: str, start: int, end: int) -> bool:
    last = text[end - 1]
    return any(close == last and open_ in text[start:end - 1] for open_, close in _EDGE_PAIRS.items())


def shows_short(candidate: Candidate, threshold: float | None = None) -> bool:
    """The reader is sure enough of its span to show it as the short answer (default: SHOW_PROBABILITY)."""
    return candidate.span.probability >= (SHOW_PROBABILITY if threshold is None else threshold)


def says_no_answer(candidates: Sequence[Candidate], chinese: bool = True, unknown_name: bool = False,
                   support: float = 0.0) -> bool:
    """True when no span read beats the no-answer position by the margin: NO_ANSWER_MARGIN for a Chinese question;
    for one without Chinese text, which the coverage rule cannot judge, ENGLISH_NO_ANSWER_MARGIN, or
    ENGLISH_SUPPORTED_MARGIN where the answer's article holds `support` ≥ ENGLISH_SUPPORTED_SHARE of its
    understood words and names; at least UNKNOWN_NAME_MARGIN for one that gives a name the corpus has no word
    for."""
    if not candidates:
        return True
    return max(c.margin for c in candidates) < no_answer_floor(chinese, unknown_name, support)


def no_answer_floor(chinese: bool, unknown_name: bool = False, support: float = 0.0, *,
                    english: float = ENGLISH_NO_ANSWER_MARGIN, supported: float = ENGLISH_SUPPORTED_MARGIN,
                    share: float = ENGLISH_SUPPORTED_SHARE, unknown: float | None = UNKNOWN_NAME_MARGIN) -> float:
    """The margin a span must reach over no answer (see says_no_answer). The English thresholds are parameters so
    that benchmarks/crosslingual.py can replay others (`unknown=None`: no raise for an unknown name)."""
    if chinese:
        return NO_ANSWER_MARGIN
    floor = supported if support >= share else english
    return max(floor, unknown) if unknown_name and unknown is not None else floor
