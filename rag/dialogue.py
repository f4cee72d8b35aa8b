"""Follow-up questions without an LLM: rewrite an elliptical question against the previous one.

"那平度呢？" after "胶州市探索成立了几个片区联合党委？" → "平度探索成立了几个片区联合党委？"
"它的面积呢？" after "辛安街道有哪些荣誉？" → "辛安街道的面积是多少？"
"""
from __future__ import annotations

import re
from typing import Sequence

from rag.lexical import PLACE_SUFFIX, tagged_words
from rag.question import WH_PATTERN

_PRONOUN = re.compile(r"^(?:那么?|那个)?(它们?|他们?|她们?|其|该[\u4e00-\u9fff]{0,2}|这个|那个|这里|那里)")
_ELLIPSIS = re.compile(r"^(?:那么?|还有|那)?\s*(?P<body>.{1,16}?)\s*(?:呢|怎么样|如何|又如何|又怎样)\s*[？?。.!！]*$")
_PLACE_END = re.compile(f"(?:{PLACE_SUFFIX})$")
# Asked with nothing before it, these cannot stand alone: "那平度呢？", "还有胶州呢", "平度呢？" (the bare
# form only without a question word of its own: "平度有多少人呢？" is a full question).
_LEAD_ELLIPSIS = re.compile(r"^(?:那么?|还有)\s*.{1,16}?\s*(?:呢|怎么样|如何|又如何|又怎样)\s*[？?。.!！]*$")
_BARE_ELLIPSIS = re.compile(r"^.{1,8}?呢\s*[？?。.!！]*$")
FOLLOW_UP_WITHOUT_CONTEXT = ("这像是接着上一个问题的追问，但前面还没有问题：请问一个完整的问题，例如“平度市累计建成了多少万亩"
                             "高标准农田？”。(This reads as a follow-up, but nothing was asked before it: please "
                             "ask a full question.)")
_ENTITY_TAGS = ("ns", "nt", "nr", "nz", "nrt", "nrfg")


def _entities(text: str) -> list[tuple[int, int, str]]:
    """(start, end, tag) of place/organisation/person names in text, in order."""
    found, pos = [], 0
    for word, tag in tagged_words(text):
        if tag in _ENTITY_TAGS and len(word) >= 2:
            found.append((pos, pos + len(word), tag))
        pos += len(word)
    # Place names jieba does not know ("市南区") still end in an administrative suffix.
    for match in re.finditer(f"[\u4e00-\u9fff]{{2,3}}?(?:{PLACE_SUFFIX})", text):
        if not any(a <= match.start() < b for a, b, _ in found):
            found.append((match.start(), match.end(), "ns"))
    return sorted(found)


def _subject(question: str) -> str:
    """The topic of a question: its first named entity, else the words before its first verb-ish split."""
    entities = _entities(question)
    if entities:
        start, end, _ = entities[0]
        # Take a following place suffix too ("辛安" + "街道").
        tail = re.match(f"[\u4e00-\u9fff]{{0,4}}?(?:{PLACE_SUFFIX}|集团|公司|中心)", question[end:])
        return question[start:end + (tail.end() if tail else 0)]
    wh = WH_PATTERN.search(question)
    return question[: wh.start()] if wh else question


def is_follow_up(question: str) -> bool:
    q = question.strip()
    return len(q) <= 20 and bool(_PRONOUN.match(q) or _ELLIPSIS.match(q))


def needs_context(question: str) -> bool:
    """Does the question only make sense after another one (a pronoun or an elliptical "那…呢")? Asked
    first, it gets FOLLOW_UP_WITHOUT_CONTEXT instead of an answer about whatever it happens to name."""
    q = question.strip()
    if len(q) > 20:
        return False
    return bool(_PRONOUN.match(q) or _LEAD_ELLIPSIS.match(q)
                or (_BARE_ELLIPSIS.match(q) and not WH_PATTERN.search(q)))


def resolve_follow_up(question: str, history: Sequence[str]) -> str:
    """The question made self-contained using the last earlier question; unchanged if not a follow-up."""
    q = question.strip()
    previous = next((h.strip() for h in reversed(history) if h and h.strip()), "")
    if not previous or not is_follow_up(q):
        return question
    wh = WH_PATTERN.search(previous)
    wh_tail = previous[wh.start():].rstrip("？?。") if wh else ""
    pronoun = _PRONOUN.match(q)
    if pronoun:
        rest = q[pronoun.end():]
        rest = re.sub(r"(?:呢|怎么样|如何)?\s*[？?。.!！]*$", "", rest)
        if WH_PATTERN.search(rest):
            return f"{_subject(previous)}{rest}？"
        measured = re.search(r"面积|人口|数量|产值|收入|规模|长度|高度|比例|率|人数|金额|价格|年龄", rest)
        return f"{_subject(previous)}{rest}是{'多少' if measured else '什么'}？"
    body = _ELLIPSIS.match(q).group("body")
    entities = _entities(previous)
    if entities:  # "那平度呢？": the new entity takes the place of the old one
        start, end, _ = entities[0]
        tail = re.match(f"[\u4e00-\u9fff]{{0,4}}?(?:{PLACE_SUFFIX})", previous[end:])
        end += tail.end() if tail and not _PLACE_END.search(body) else 0
        # "胶州市…" + "那平度呢？" → "平度市…": the new place keeps the old one's administrative level,
        # which also lets the answer check find the place name.
        suffix = _PLACE_END.search(previous[start:end])
        if suffix and not _PLACE_END.search(body):
            body += suffix.group()
        return previous[:start] + body + previous[end:]
    return f"{body}{wh_tail or previous}？"
