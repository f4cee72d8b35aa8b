"""Scoring the sentences of the retrieved passages against the question, and the answer window around the
best one (which of them becomes the answer is rag.answer's decision; the short answer is the reader's).

Nothing is generated: the sentence is copied from the chunk, with file offsets. Sentence choice is a
linear score over general features (how much of the question's content the sentence holds, retrieval
rank, the phrasing the question type calls for, the e5 similarity of question and sentence), with weights
fitted by scripts/fit_answer_weights.py. The trained reader's scores did not pick better sentences on
CMRC 2018 trial (where it disagreed with this scorer, the scorer was right 2-3 times as often), so the
scorer chooses the sentence and the reader reads inside it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from rag.chunking import answer_sentences
from rag.lexical import STOPWORDS, normalise
from rag.question import Question, as_question
from rag.types import Chunk

_STOP_BIGRAMS = frozenset({"".join(STOPWORDS)[i:i + 2] for i in range(len("".join(STOPWORDS)) - 1)})


@dataclass(frozen=True)
class SentenceHit:
    chunk: Chunk
    rank: int  # 0-based rank of the chunk among the retrieved
    start: int  # sentence offsets within chunk.text
    end: int
    score: float
    coverage: float  # share of the question's content found in the sentence, 0..1


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


def _longest_common(a: str, b: str) -> int:
    """Length of the longest common substring of a (short) and b: binary search on the length, within the runs
    of a's characters that b also has (an English question shares only digits with a Chinese sentence)."""
    shared = set(a).intersection(b)
    runs, start = [], 0
    for end, ch in enumerate(a):
        if ch not in shared:
            if end > start:
                runs.append(a[start:end])
            start = end + 1
    if start < len(a):
        runs.append(a[start:])
    lo, hi = 0, max(map(len, runs), default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if any(run[i:i + mid] in b for run in runs for i in range(len(run) - mid + 1)):
            lo = mid
        else:
            hi = mid - 1
    return lo


# What a sentence giving each kind of answer (rag.question.ANSWER_KINDS) tends to say: "为什么…" is answered
# by 因为/由于/因此…, "…又名什么" by 又称/别称…, "…怎么死的" by 卒/逝世/被杀…. Generic Chinese phrasing, one
# feature ("cue") whose weight is fitted with the others.
ANSWER_CUES = {kind: re.compile(pattern) for kind, pattern in (
    ("reason", r"因为|由于|因此|所以|为了|原因|导致|因而|故|以致|使得|鉴于"),
    ("alias", r"又名|又称|别称|别名|亦称|也称|简称|俗称|称为|称作|名为|叫做|之称|昵称|被称|译名|统称|通称"),
    ("place", r"位于|地处|坐落|[省市县州国区岛镇]"),
    ("person", r"·|[\u4e00-\u9fff](?:先生|女士|教授|博士|皇帝|国王)|由[\u4e00-\u9fff]{2,4}(?:创|发|建|设|提|担)"),
    ("death", r"死|卒|逝世|去世|病逝|遇害|被杀|杀害|驾崩|崩|薨|诛|阵亡|自尽|自杀"),
    ("post", r"任|担任|出任|职|长|主任|主席|书记|委员"),
    ("education", r"毕业|就读|大学|学院|学位|学士|硕士|博士"),
)}
# The measure a kind of question asks for, as a number with its unit (feature "unit").
_NUMBER = r"(?<![\d.,])\d[\d.,]*\s*"  # the lookbehind starts a match only at a number's first digit
ANSWER_UNITS = {kind: re.compile(pattern) for kind, pattern in (
    ("height", _NUMBER + r"(?:米|公尺|厘米|公分|英尺|呎|毫米|千米|公里)"),
    ("length", _NUMBER + r"(?:米|公尺|厘米|公分|英尺|呎|毫米|千米|公里|英里|哩)"),
    ("weight", _NUMBER + r"(?:克|千克|公斤|吨|磅|斤)"),
    ("area", _NUMBER + r"(?:平方|公顷|亩|英亩)"),
    ("age", r"\d+\s*岁|[一二三四五六七八九十]+岁"),
    ("time", r"\d{3,4}\s*年|[一二三四五六七八九十〇]{2,4}年|\d{1,2}\s*月|\d+世纪|年代"),
    ("money", _NUMBER + r"(?:万|亿)?(?:元|美元|欧元|英镑|日元|港元|港币|美金)"),
    ("people", _NUMBER + r"(?:万|亿)?(?:人|名)"),
)}

# The sentence score is a linear function of these features (sentence_features computes them):
#   chars       IDF-weighted share of the question's content characters (not in the passage title) in the sentence
#   terms       same for jieba terms (sentence-level IDF), title terms left out
#   bigrams     share of the question's character bigrams not in the title
#   previous    question terms missing here but found in the previous sentence (context split over two)
#   passage     coverage of the question by the whole passage (title + text)
#   common      longest common substring with the question, relative to the question's length
#   rank        1 / (1 + retrieval rank of the best passage from the same file); chunk_rank: of this passage
#   asks_number the question asks for a count or a date and the sentence holds a number
#   cue, unit   the sentence has the phrasing or the measure the question type calls for (ANSWER_CUES, ANSWER_UNITS)
#   position    place of the sentence within its passage, 0 (first) .. 1 (last)
#   title       the sentence repeats the passage title (a lead sentence naming the subject, rarely the answer)
#   similarity  e5 cosine of question and sentence ×10 (the index stores a vector per sentence); it carries
#               the meaning words miss (逝世/卒) and is all there is for an English question
FEATURES = ("chars", "terms", "bigrams", "previous", "passage", "common", "rank", "chunk_rank", "asks_number",
            "cue", "unit", "position", "title", "similarity")
# Fitted by `python scripts/fit_answer_weights.py` (a softmax over each question's candidate sentences, CMRC 2018
# trial; 5-fold cross-validated top-1 accuracy printed there and in the README), rounded. WEIGHTS_LEXICAL is
# the fit without the similarity feature, for an index without sentence vectors.
WEIGHTS = dict(chars=2.8, terms=1.91, bigrams=2.26, previous=1.39, passage=2.1, common=1.01, rank=2.0,
               chunk_rank=1.78, asks_number=0.61, cue=1.46, unit=1.15, position=-0.68, title=-1.0, similarity=3.47)
WEIGHTS_LEXICAL = dict(chars=3.44, terms=1.92, bigrams=2.41, previous=0.89, passage=2.29, common=2.75, rank=2.61,
                       chunk_rank=2.23, asks_number=0.69, cue=1.54, unit=1.34, position=-0.84, title=-0.08,
                       similarity=0.0)


SentenceSimilarity = Callable[[Chunk], "np.ndarray | None"]


def sentence_features(question: Question | str, chunks: Sequence[Chunk],
                      similarity: SentenceSimilarity | None = None) -> tuple[list[SentenceHit], np.ndarray]:
    """Every answer sentence of the retrieved chunks (score 0) and its feature row (FEATURES order).

    Two ideas carry the lexical part: words of the passage title (usually the article's subject, rarely
    repeated in the sentence that answers) count at passage level, not sentence level; and weights are
    IDFs over the candidate sentences, so words that every sentence repeats count little. `similarity`
    gives the question's cosine with each answer sentence of a chunk (no callback: 0; a chunk it has nothing
    for: NaN, and score_sentences then uses WEIGHTS_LEXICAL). `coverage` keeps
    the plain share of the question's content (IDF-weighted terms and bigrams) found in the sentence, 0..1.
    """
    question = as_question(question)
    q_core = re.sub(r"\W+", "", question.before + question.after)
    terms = question.terms
    cues = [pattern for kind, pattern in ANSWER_CUES.items() if kind in question.kinds]
    units = [pattern for kind, pattern in ANSWER_UNITS.items() if kind in question.kinds]
    sentences = []  # (rank, chunk, index in chunk, start, end, normalised text, similarity)
    by_chunk: dict[int, list[str]] = {}
    for rank, chunk in enumerate(chunks):
        spans = answer_sentences(chunk.text)
        cosines = similarity(chunk) if similarity else None
        if cosines is None or len(cosines) != len(spans):  # NaN: unknown (score_sentences then goes lexical)
            cosines = np.full(len(spans), np.nan if similarity else 0.0, np.float32)
        texts = by_chunk.setdefault(rank, [])
        for i, (start, end) in enumerate(spans):
            texts.append(normalise(chunk.text[start:end]))
            sentences.append((rank, chunk, i, start, end, texts[-1], float(cosines[i])))
    n = len(sentences) or 1
    term_w = {t: math.log(1 + n / (1 + sum(t in s[5] for s in sentences))) for t in terms}
    char_df: dict[str, int] = {}
    for s in sentences:
        for ch in set(s[5]):
            char_df[ch] = char_df.get(ch, 0) + 1
    chunk_w = idf_weights(terms, chunks)
    chunk_total = sum(chunk_w.values()) or 1.0
    term_total = sum(term_w.values()) or 1.0
    q_bigrams = _bigrams(question.normalised) - _STOP_BIGRAMS
    source_rank: dict[str, int] = {}
    for rank, chunk in enumerate(chunks):
        source_rank.setdefault(chunk.source, rank)
    hits, rows = [], []
    per_chunk: dict[int, tuple] = {}
    for rank, chunk, i, start, end, sentence, cosine in sentences:
        if rank not in per_chunk:
            title = normalise(chunk.title)
            passage = title + normalise(chunk.text)
            nt_terms = {t: w for t, w in term_w.items() if t not in title}
            q_chars = {ch for ch in q_core if ch not in title and ch not in _STOP_CHARS}
            char_w = {ch: math.log(1 + n / (1 + char_df.get(ch, 0))) for ch in q_chars}
            per_chunk[rank] = (title, sum(w for t, w in chunk_w.items() if t in passage) / chunk_total,
                               nt_terms, sum(nt_terms.values()) or 1.0, {b for b in q_bigrams if b not in title},
                               char_w, sum(char_w.values()) or 1.0)
        title, passage_cover, nt_terms, nt_total, nt_bigrams, char_w, char_total = per_chunk[rank]
        bigrams = _bigrams(sentence)
        count = len(by_chunk[rank])
        previous = by_chunk[rank][i - 1] if i > 0 else ""
        rows.append((
            sum(w for ch, w in char_w.items() if ch in sentence) / char_total,
            sum(w for t, w in nt_terms.items() if t in sentence) / nt_total,
            len(nt_bigrams & bigrams) / (len(nt_bigrams) or 1),
            sum(w for t, w in term_w.items() if t in previous and t not in sentence) / term_total,
            passage_cover,
            _longest_common(q_core, sentence) / (len(q_core) or 1),
            1 / (1 + source_rank[chunk.source]),
            1 / (1 + rank),
            float(question.asks_number and bool(_DIGITS.search(sentence))),
            float(any(c.search(sentence) for c in cues)),
            float(any(u.search(sentence) for u in units)),
            i / max(1, count - 1),
            float(bool(title) and title in sentence),
            10 * cosine,
        ))
        term_cover = sum(w for t, w in term_w.items() if t in sentence) / term_total
        bigram_cover = len(q_bigrams & bigrams) / (len(q_bigrams) or 1)
        hits.append(SentenceHit(chunk, rank, start, end, 0.0, 0.6 * term_cover + 0.4 * bigram_cover))
    return hits, np.asarray(rows, np.float32).reshape(len(rows), len(FEATURES))


def score_sentences(question: Question | str, chunks: Sequence[Chunk],
                    similarity: SentenceSimilarity | None = None) -> list[SentenceHit]:
    """Every answer sentence of the retrieved chunks, scored against the question, best first."""
    hits, rows = sentence_features(as_question(question), chunks, similarity)
    similar = rows[:, FEATURES.index("similarity")]
    # Weights fitted with the similarity feature rank a passage without it far too low: when any
    # candidate lacks its sentence vectors, the whole question is scored without them.
    weights = WEIGHTS if similarity and not np.isnan(similar).any() else WEIGHTS_LEXICAL
    rows = np.nan_to_num(rows)
    scores = rows @ np.array([weights[name] for name in FEATURES], np.float32)
    scored = [replace(hit, score=float(score)) for hit, score in zip(hits, scores)]
    return sorted(scored, key=lambda h: (-h.score, h.rank, h.start))


# A neighbouring sentence of the same passage joins the answer when it scores within this margin of the
# best one (the question's content split across two sentences). CMRC sentence hit by margin: 0 → 0.833,
# 1.0 → 0.848, 2.0 → 0.855, for mean answers of 58 / 61 / 65 characters; 1.0 keeps answers short.
WINDOW_MARGIN = 1.0


# A sentence that opens with a link back (因此…, 在此背景下…) states a consequence: the reason, which a
# why-question asks for, is in the sentence before, and joins the answer (CMRC sentence hit +0.4 points).
# Questions asking for a description (features, course, effects) are often answered by two sentences: the
# better neighbour joins within a wider margin (+0.3 points, +3 characters an answer on average).
_LINKS_BACK = re.compile(r"^(?:因此|所以|因而|故而|于是|由此|在此背景下|这样(?!的)|此后)")
DESCRIBE_MARGIN = 3.0


def answer_window(hits: Sequence[SentenceHit], question: Question | str = "", margin: float = WINDOW_MARGIN) -> tuple[int, int]:
    """(start, end) in hits[0].chunk.text of the best sentence, joined with the previous one when it
    links back to it, or else with a neighbour (previous or next sentence of the same chunk) that scores
    within `margin` of it (DESCRIBE_MARGIN for questions about features, course or effects). Always a contiguous span of the chunk."""
    best = hits[0]
    same = sorted((h for h in hits if h.chunk.id == best.chunk.id), key=lambda h: h.start)
    i = [h.start for h in same].index(best.start)
    if i > 0 and _LINKS_BACK.match(normalise(best.chunk.text[best.start:best.end])):
        return same[i - 1].start, best.end
    if as_question(question).detailed:
        margin = max(margin, DESCRIBE_MARGIN)
    neighbours = [same[j] for j in (i - 1, i + 1) if 0 <= j < len(same) and same[j].score >= best.score - margin]
    if not neighbours:
        return best.start, best.end
    other = max(neighbours, key=lambda h: h.score)
    return min(best.start, other.start), max(best.end, other.end)
