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
_UNIT = (r"(?:%|‰|公分|厘米|毫米|公斤|千克|英尺|英里|美元|欧元|港元|人次|万亩|万人|万元|亿元|万吨|平方公里|平方米|公里|千米|公顷|万|亿|千|百)?"
         r"(?:余|多)?(?:%|个|名|人|位|起|吨|亩|元|家|次|年|岁|天|倍|项|所|座|户|件|场|条|台|辆|处|类|种|批|届|份|期|轮|"
         r"栋|间|米|斤|克|分钟|小时|秒|周|月|日|号|层|枚|只|头|株|棵|本|部|首|篇|张|支|队|组|村|镇|区|县|市|省|国|亿|万)?")
_NUMBER_SPAN = re.compile(rf"(?:约|近|超过)?{_NUM}{_UNIT}")
_DATE_SPAN = re.compile(r"(?:\d{2,4}年)?(?:\d{1,2}月)?(?:\d{1,2}[日号])?|每月\d{1,2}[日号]|[一二三四五六七八九十]+世纪[\u4e00-\u9fff]{0,4}年代")
_TRIM = "，,。；;：:、 \n“”\"'（）()！？!?"
_LEAD_PARTICLES = "是为了有在于将被把由让给共约达"
_PLACE_SUFFIX = re.compile(r"哪(?:个|一个|座|家|所)?([区市县省镇街道村国州城部局厂店队校院馆])")
_COUNT_WORDS = ("多少", "几个", "几", "多大", "多高", "多长", "多远", "多重", "多久", "第几", "几次", "几年")
_DATE_WORDS = ("哪一年", "哪年", "什么时候", "何时", "哪一天", "哪天", "几月", "几日", "哪一月", "日期", "时间")


_STOP_BIGRAMS = frozenset({"".join(STOPWORDS)[i:i + 2] for i in range(len("".join(STOPWORDS)) - 1)})


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


# Characters that carry no topic: function words, question words, pronouns. Used for the character-level
# coverage feature, which catches question words that jieba cut differently in the sentence (著作/著有).
_STOP_CHARS = frozenset("的了和与及或在是为对把被从向于以之其这那此该也都就而并等个中上下里着过吗呢吧啊呀么有没无不将已"
                        "还又再更最很所但可能会什么多少几哪谁何时怎样如请一些我你他她它们")
_DIGITS = re.compile(r"\d|[零〇一二两三四五六七八九十百千万亿]+[个名人位次年岁天倍项所座户件场条台辆处类种批届份期轮万亿米元吨亩号日月]")

# Weights of the sentence features (a linear score; see score_sentences). They were fitted once as a
# softmax over the candidate sentences of CMRC 2018 trial questions (2-fold cross-validated accuracy
# 0.80/0.83 vs 0.70 for the old score) and rounded; the features are generic, nothing is data-specific.
_W_CHARS = 4.0      # IDF-weighted coverage of the question's content characters not in the passage title
_W_TERMS = 0.7      # same for jieba terms (sentence-level IDF), title terms left out
_W_BIGRAMS = 1.7    # character-bigram coverage of the whole question
_W_BIGRAMS_NT = 0.3  # … of the bigrams not in the title
_W_PREV = 1.0       # question terms missing here but found in the previous sentence (split context)
_W_PASSAGE = 3.0    # coverage of the question by the whole passage (title + text)
_W_LCS = 2.0        # longest common substring with the question, relative to the question's length
_W_RANK = 2.3       # retrieval-rank prior, 1 / (1 + rank of the best passage from the same file)
_W_TYPE = 1.25      # the sentence holds a number and the question asks for a count or a date


def _longest_common(a: str, b: str) -> int:
    """Length of the longest common substring of a (short) and b: binary search on the length."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if any(a[i:i + mid] in b for i in range(len(a) - mid + 1)):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _asks_number(wh: str, question: str) -> bool:
    return (wh in _COUNT_WORDS or any(w in question for w in _DATE_WORDS)
            or "比例" in question or "百分" in question)


def score_sentences(question: str, chunks: Sequence[Chunk]) -> list[SentenceHit]:
    """Every sentence of the retrieved chunks, scored against the question, best first.

    The score is a weighted sum of generic features (weights above). Two ideas carry most of it:
    words of the passage title (usually the article's subject, rarely repeated in the sentence that
    answers) count at passage level, not sentence level; and weights are IDFs over the candidate
    sentences, so words that every sentence repeats count little. `coverage` keeps the plain share of
    the question's content (IDF-weighted terms and bigrams) found in the sentence, 0..1.
    """
    q = normalise(question)
    left, wh, right = _split_question(q)
    q_core = re.sub(r"\W+", "", left + right)
    terms = question_terms(question)
    wants_number = _asks_number(wh, q)
    sentences = []  # (rank, chunk, index in chunk, start, end, normalised text)
    by_chunk: dict[int, list[str]] = {}
    for rank, chunk in enumerate(chunks):
        texts = by_chunk.setdefault(rank, [])
        for i, (start, end) in enumerate(split_sentences(chunk.text)):
            texts.append(normalise(chunk.text[start:end]))
            sentences.append((rank, chunk, i, start, end, texts[-1]))
    n = len(sentences) or 1
    term_w = {t: math.log(1 + n / (1 + sum(t in s[5] for s in sentences))) for t in terms}
    char_df: dict[str, int] = {}
    for s in sentences:
        for ch in set(s[5]):
            char_df[ch] = char_df.get(ch, 0) + 1
    chunk_w = idf_weights(terms, chunks)
    chunk_total = sum(chunk_w.values()) or 1.0
    term_total = sum(term_w.values()) or 1.0
    q_bigrams = _bigrams(q) - _STOP_BIGRAMS
    source_rank: dict[str, int] = {}
    for rank, chunk in enumerate(chunks):
        source_rank.setdefault(chunk.source, rank)
    hits = []
    passage_cover: dict[int, float] = {}
    for rank, chunk, i, start, end, sentence in sentences:
        if rank not in passage_cover:
            title = normalise(chunk.title)
            passage = title + normalise(chunk.text)
            passage_cover[rank] = sum(w for t, w in chunk_w.items() if t in passage) / chunk_total
            nt_terms = {t: w for t, w in term_w.items() if t not in title}
            nt_total = sum(nt_terms.values()) or 1.0
            nt_bigrams = {b for b in q_bigrams if b not in title}
            q_chars = {ch for ch in q_core if ch not in title and ch not in _STOP_CHARS}
            char_w = {ch: math.log(1 + n / (1 + char_df.get(ch, 0))) for ch in q_chars}
            char_total = sum(char_w.values()) or 1.0
        term_cover = sum(w for t, w in term_w.items() if t in sentence) / term_total
        bigrams = _bigrams(sentence)
        bigram_cover = len(q_bigrams & bigrams) / (len(q_bigrams) or 1)
        features = (
            _W_CHARS * sum(w for ch, w in char_w.items() if ch in sentence) / char_total
            + _W_TERMS * sum(w for t, w in nt_terms.items() if t in sentence) / nt_total
            + _W_BIGRAMS * bigram_cover
            + _W_BIGRAMS_NT * len(nt_bigrams & bigrams) / (len(nt_bigrams) or 1)
            + _W_PASSAGE * passage_cover[rank]
            + _W_LCS * _longest_common(q_core, sentence) / (len(q_core) or 1)
            + _W_RANK / (1 + source_rank[chunk.source])
        )
        if i > 0:
            previous = by_chunk[rank][i - 1]
            features += _W_PREV * sum(w for t, w in term_w.items() if t in previous and t not in sentence) / term_total
        if wants_number and _DIGITS.search(sentence):
            features += _W_TYPE
        coverage = 0.6 * term_cover + 0.4 * bigram_cover
        hits.append(SentenceHit(chunk, rank, start, end, features, coverage))
    return sorted(hits, key=lambda h: (-h.score, h.rank, h.start))


# A neighbouring sentence of the same passage joins the answer when it scores within this margin of the
# best one (the question's content split across two sentences): CMRC sentence hit +1.6 points for
# +5 % answer length.
WINDOW_MARGIN = 1.0
_CJK = re.compile(r"[\u3400-\u9fff]")


def lexical_question(question: str) -> bool:
    """Whether lexical coverage is meaningful for the question (it has Chinese text)."""
    return bool(_CJK.search(question))


def answer_window(hits: Sequence[SentenceHit], margin: float = WINDOW_MARGIN) -> tuple[int, int]:
    """(start, end) in hits[0].chunk.text of the best sentence, joined with a neighbour (previous or next
    sentence of the same chunk) that scores within `margin` of it. Always a contiguous span of the chunk."""
    best = hits[0]
    same = sorted((h for h in hits if h.chunk.id == best.chunk.id), key=lambda h: h.start)
    starts = [h.start for h in same]
    i = starts.index(best.start)
    neighbours = [same[j] for j in (i - 1, i + 1) if 0 <= j < len(same) and same[j].score >= best.score - margin]
    if not neighbours:
        return best.start, best.end
    other = max(neighbours, key=lambda h: h.score)
    return min(best.start, other.start), max(best.end, other.end)


def _split_question(question: str) -> tuple[str, str, str]:
    q = question.strip().rstrip("？?。.!！ ")
    matches = list(_WH.finditer(q))
    if not matches:
        return q, "", ""
    # The longest question word wins (多少 over the 多 in a name like 西奥多), the last one on ties.
    match = max(matches, key=lambda m: (len(m.group()), m.start()))
    return q[: match.start()], match.group(), q[match.end():]


def _find_left_anchor(left: str, sentence: str) -> tuple[int, int]:
    """End position in sentence of the longest suffix of `left` found there (skipping ≤2 trailing
    chars, e.g. 有/是/了 before the question word), and that suffix's length."""
    best = (-1, 0)
    for skip in range(0, min(3, len(left))):
        part = left[: len(left) - skip]
        for size in range(min(len(part), 12), 1, -1):
            pos = sentence.find(part[-size:])
            if pos >= 0:
                if size > best[1]:
                    best = (pos + size, size)
                break
    return best


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
        unit = re.match(r"[\u4e00-\u9fff%]{1,2}", right)  # the unit the question names (多少万亩)
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


# How much to return when no typed span fits, by question word. Measured on CMRC 2018 trial questions
# with the gold sentence given: for "why/how/which ones" and for questions without a question word the
# reference answers are whole sentences or clauses, so a tight aligned span scores far below them
# (F1 0.20-0.32 vs 0.69-0.84 for the sentence); for who/where/which the aligned span or its clause is best.
_DESCRIPTIVE = frozenset({"哪些", "哪几个", "哪几", "为什么", "为何", "怎么样", "怎样", "如何", "怎么", ""})
_CLAUSE_END = re.compile(r"[，,。；;！？!?：:]")


def short_span(question: str, sentence: str) -> tuple[int, int]:
    """(start, end) of the short answer within sentence, or (-1, -1) if none is found.

    Typed questions (count, date, place) get the typed span nearest the aligned gap; other questions
    get the span between the question's left and right context anchors; when that fails, or the
    question asks for a description, the clause around the anchors or the whole sentence.
    """
    q = normalise(question)
    s = normalise(sentence)
    if len(s) != len(sentence):  # NFKC changed the length: align on the raw text instead
        s = sentence
    left, wh, right = _split_question(q)
    whole = _trim(s, 0, len(s))
    if whole[1] <= whole[0]:
        return -1, -1
    if wh in _DESCRIPTIVE:
        return whole
    left_end, left_size = _find_left_anchor(left, s)
    right_start, right_size = _find_right_anchor(right, s, max(left_end, 0))
    lo = left_end if left_end >= 0 else 0
    hi = right_start if right_start > lo else -1
    if hi < 0:  # no right context: the answer runs to the end of the clause
        clause = _CLAUSE_END.search(s, lo) if lo < len(s) else None
        hi = clause.start() if clause else len(s)
        if left_end < 0 and right_start >= 0:
            hi = right_start
            lo = max(0, max(s.rfind(c, 0, hi) for c in "，,；;：:") + 1)
    # Not a number the question itself names, nor a lone numeral character (一 in 一体化).
    typed = [(a, b) for a, b in _typed_spans(wh, right, q, s) if s[a:b] not in q and (b - a > 1 or s[a].isdigit())]
    if typed:
        # The typed span inside (or nearest) the aligned gap wins; inside it, the one nearest the
        # right anchor when there is one (the answer sits just before the question's right context).
        def distance(span):
            a, b = span
            if a >= lo and b <= hi + 4:
                return 0, (hi - b if right_start > lo else a - lo)
            return min(abs(a - lo), abs(a - hi), abs(b - hi)), 0
        a, b = min(typed, key=distance)
        if distance((a, b))[0] <= 30:
            return _trim(s, a, b)
    if left_size + right_size == 0:
        return _clause_at(s, _best_clause(q, s)) if wh != "什么" else whole
    a, b = _trim(s, lo, hi)
    while a < b and s[a] in _LEAD_PARTICLES and b - a > 2:
        a += 1
    if b - a <= 0 or b - a > 40:
        return _clause_at(s, lo) if wh != "什么" else whole
    return a, b


def _clause_at(s: str, pos: int) -> tuple[int, int]:
    """The clause (between ，；：。 marks) holding position pos."""
    start = max([s.rfind(c, 0, pos) for c in "，,。；;！？!?：:"]) + 1
    end = _CLAUSE_END.search(s, pos)
    return _trim(s, start, end.start() if end else len(s))


def _best_clause(q: str, s: str) -> int:
    """Start of the clause sharing most character bigrams with the question."""
    q_bigrams = _bigrams(q)
    best, best_pos, pos = -1, 0, 0
    for part in re.split(r"([，,。；;！？!?：:])", s):
        if len(part) > 1:
            overlap = len(q_bigrams & _bigrams(part))
            if overlap > best:
                best, best_pos = overlap, pos
        pos += len(part)
    return best_pos


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """Drop punctuation at both ends, keeping 《书名》 marks that enclose a title."""
    while a < b and (text[a] in _TRIM or text[a] == "》"):
        a += 1
    while b > a and (text[b - 1] in _TRIM or text[b - 1] == "《"):
        b -= 1
    return a, b
