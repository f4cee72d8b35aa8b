"""Evaluation metrics: CMRC 2018 EM/F1, retrieval recall@k and MRR, percentiles, abstention."""
from __future__ import annotations

import math
import re

# Re-implements the official CMRC 2018 evaluation script by Yiming Cui (github.com/ymcui/
# cmrc2018, eval/cmrc2018_evaluate.py v4, squad-style-data/cmrc2018_evaluate.py v5):
# mixed_segmentation, remove_punctuation, find_lcs, calc_f1_score, calc_em_score.
# Scores are fractions in [0, 1], not x100.
# The official list holds '……' as one two-character item; the script compares it with
# single characters, so '…' is never removed. Kept as is, to score like the original.
_PUNCT = frozenset(['-', ':', '_', '*', '^', '/', '\\', '~', '`', '+', '=',
                    '，', '。', '：', '？', '！', '“', '”', '；', '’', '《', '》', '……', '·', '、',
                    '「', '」', '（', '）', '－', '～', '『', '』'])
_CJK = re.compile(r'[\u4e00-\u9fa5]')
# The official script runs nltk.word_tokenize on each non-CJK run. We avoid nltk: a
# decimal number ("155.2", "1,000") or a run of letters/digits ("2v2") is one token, any
# other non-space character is a token of its own, whitespace is dropped.
_WORD = re.compile(r'\d+(?:[.,]\d+)+|[^\W_]+|\S')


def normalize_answer(text: str) -> str:
    """Lowercase, strip and drop the official punctuation set (official remove_punctuation)."""
    return ''.join(c for c in str(text).lower().strip() if c not in _PUNCT)


def mixed_segmentation(text: str, rm_punc: bool = True) -> list[str]:
    """Split text into tokens: one per CJK character or punctuation mark, words for the rest."""
    # As in the official script, a mark skipped by rm_punc does not end an ASCII run.
    segs: list[str] = []
    run = ''
    for char in str(text).lower().strip():
        if rm_punc and char in _PUNCT:
            continue
        if _CJK.match(char) or char in _PUNCT:
            segs.extend(_WORD.findall(run))
            run = ''
            segs.append(char)
        else:
            run += char
    segs.extend(_WORD.findall(run))
    return segs


def find_lcs(s1: list[str], s2: list[str]) -> tuple[list[str], int]:
    """Return the longest common contiguous subsequence of s1 and s2 and its length."""
    m = [[0] * (len(s2) + 1) for _ in range(len(s1) + 1)]
    mmax, p = 0, 0
    for i, a in enumerate(s1):
        for j, b in enumerate(s2):
            if a == b:
                m[i + 1][j + 1] = m[i][j] + 1
                if m[i + 1][j + 1] > mmax:
                    mmax, p = m[i + 1][j + 1], i + 1
    return s1[p - mmax:p], mmax


def _check_answers(answers: list[str]) -> None:
    """Raise ValueError when answers is a bare string instead of a list of strings."""
    if isinstance(answers, str):
        raise ValueError("answers must be a list of strings, not a single string")


def cmrc_em(prediction: str, answers: list[str]) -> float:
    """Exact match after normalize_answer, max over the reference answers (0.0 if none)."""
    _check_answers(answers)
    pred = normalize_answer(prediction)
    return 1.0 if any(normalize_answer(a) == pred for a in answers) else 0.0


def cmrc_f1(prediction: str, answers: list[str]) -> float:
    """Official CMRC F1 over longest-common-substring of segmented tokens, max over answers."""
    _check_answers(answers)
    pred = mixed_segmentation(prediction, rm_punc=True)
    best = 0.0
    for ans in answers:
        gold = mixed_segmentation(ans, rm_punc=True)
        _, n = find_lcs(gold, pred)
        if n:
            precision, recall = n / len(pred), n / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _check_ranks(ranks: list[int | None]) -> None:
    """Raise ValueError unless every rank is None or an int >= 1."""
    for r in ranks:
        if r is not None and (isinstance(r, bool) or not isinstance(r, int) or r < 1):
            raise ValueError(f"ranks must be None or 1-based ints >= 1, got {r!r}")


def recall_at_k(ranks: list[int | None], k: int) -> float:
    """Fraction of questions whose first relevant item has rank <= k (0.0 if no questions)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    _check_ranks(ranks)
    return sum(r is not None and r <= k for r in ranks) / len(ranks) if ranks else 0.0


def mrr(ranks: list[int | None]) -> float:
    """Mean reciprocal rank; a question with None (not retrieved) counts 0 (0.0 if empty)."""
    _check_ranks(ranks)
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks) if ranks else 0.0


def percentile(values: list[float], q: float) -> float:
    """q-th percentile (q in [0, 100]) with numpy's default linear interpolation; 0.0 if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    xs = sorted(float(v) for v in values)
    if not xs:
        return 0.0
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def abstention_scores(abstained: list[bool], answerable: list[bool]) -> dict:
    """Precision, recall and F1 of abstaining, positive = unanswerable question abstained on."""
    # 0/0 conventions: precision with no abstention is 1.0 if no question was unanswerable,
    # else 0.0; recall with no unanswerable question is 1.0; F1 is 0.0 if P + R is 0.
    if len(abstained) != len(answerable):
        raise ValueError("abstained and answerable differ in length: "
                         f"{len(abstained)} != {len(answerable)}")
    tp = sum(a and not ok for a, ok in zip(abstained, answerable))
    fp = sum(a and ok for a, ok in zip(abstained, answerable))
    fn = sum(not a and not ok for a, ok in zip(abstained, answerable))
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
