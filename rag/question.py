"""Understanding the question, once per ask: cleaning, language, question word, the kind of answer it
asks for, the places it names and its search terms.

`analyse(text) -> Question` is computed once in Pipeline.ask and passed to retrieval, sentence scoring
(rag.sentences), the answer decision (rag.answer) and the reader. To teach the chatbot a new kind of
question, add its question word or its pattern here; what an answering sentence looks like for that
kind lives in rag.sentences.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.crosslingual import Lexicon, Unit
from rag.lexical import normalise, place_names, search_tokens, to_simplified

EMPTY_QUESTION = "请输入一个问题。(Please type a question.)"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Question words, longest first within each family (the longest match wins, see split_question).
WH_WORDS = (
    "什么时候", "哪一年", "哪一天", "哪一月", "哪几个", "哪几", "哪一个", "哪一位", "哪些", "哪个", "哪位", "哪里", "哪儿",
    "哪家", "哪座", "哪条", "哪种", "哪国", "哪年", "哪天", "多少", "几个", "几年", "几月", "几日", "几次", "第几", "多久",
    "多长", "多大", "多高", "多远", "多重", "何时", "何地", "何人", "为什么", "为何", "怎么样", "怎样", "如何", "怎么",
    "什么", "啥", "谁", "哪", "几", "多",
)
WH_PATTERN = re.compile("|".join(map(re.escape, WH_WORDS)))
_COUNT_WORDS = ("多少", "几个", "几", "多大", "多高", "多长", "多远", "多重", "多久", "第几", "几次", "几年")
_DATE_WORDS = ("哪一年", "哪年", "什么时候", "何时", "哪一天", "哪天", "几月", "几日", "哪一月", "日期", "时间")
# Question words whose answers are whole sentences, not a short span. Measured on CMRC 2018 trial: for
# "why/how/which ones" and for questions without a question word the reference answers are whole sentences
# or clauses (a tight span scored F1 0.20-0.32 there vs 0.69-0.84 for the sentence).
_DESCRIPTIVE_WH = frozenset({"哪些", "哪几个", "哪几", "为什么", "为何", "怎么样", "怎样", "如何", "怎么", ""})
_ENGLISH_DESCRIPTIVE = re.compile(
    r"^\s*(?:why|how(?!\s+(?:many|much|long|old|far|big|tall|large|high|often))|describe|explain)\b", re.IGNORECASE)
# Questions about features, course or effects, often answered by two sentences (rag.sentences.answer_window).
_DETAILED = re.compile(r"为什么|为何|怎么样|怎样|如何|哪些|特点|特征|样子|什么样|外形|外貌|形状|内容|情节|经历|过程|原因|影响|"
                       r"作用|功能|功效|症状|表现")
# The kind of answer a question asks for, by its phrasing. rag.sentences knows what a sentence giving each
# kind tends to say (因为… for a reason, a number with 米 for a height).
ANSWER_KINDS = {name: re.compile(pattern) for name, pattern in (
    ("reason", r"为什么|为何|原因|何故|怎么会"),
    ("alias", r"别名|又名|又称|别称|俗称|简称|称为|称作|叫什么|叫做|被称|之称|昵称|名称|名字|称之为|称呼"),
    ("place", r"哪里|哪儿|何地|什么地方|位于|哪个地方|在哪|地理位置|何处|哪个国家|哪个城市"),
    ("person", r"谁|哪位|何人|什么人"),
    ("death", r"怎么死|如何死|死因|怎样死|去世|逝世|死于|卒"),
    ("post", r"职务|职位|担任|任职|官职"),
    ("education", r"毕业|学历|就读|大学"),
    ("height", r"多高|高度|身高|海拔"),
    ("length", r"多长|长度|多远|距离|全长"),
    ("weight", r"多重|重量|体重"),
    ("area", r"面积|多大"),
    ("age", r"几岁|多少岁|年龄|多大年纪|岁数"),
    ("time", r"哪一年|哪年|何年|什么时候|何时|时间|年份|日期|哪一天|哪天|几月|几日"),
    ("money", r"多少钱|价格|多少元|费用|售价|票价|资金|投资"),
    ("people", r"多少人|人口|几个人|多少名|人数"),
)}
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Question:
    """A question, analysed: what every later step needs to know about it."""
    text: str  # as answered (cleaned; a follow-up already made self-contained)
    normalised: str  # NFKC, Simplified, lower case (rag.lexical.normalise)
    simplified: str  # Simplified only, case and width kept: what the reader reads with the Simplified articles
    language: str  # "zh" when it has Chinese text, else "other": lexical coverage cannot judge it
    wh: str  # its question word ("" when none), e.g. 多少
    before: str  # normalised text before and after the question word, without trailing punctuation
    after: str
    tokens: tuple[str, ...]  # jieba search tokens without stopwords (BM25's query)
    places: tuple[str, ...]  # place names it names, without administrative suffix (平度市 → 平度)
    kinds: frozenset[str]  # the kinds of answer its phrasing asks for (ANSWER_KINDS)
    asks_number: bool  # a count, measure or date
    descriptive: bool  # a description or reason: the answer is a sentence, not a short span
    detailed: bool  # features, course, effects: the answer may take two sentences
    # English words and romanised names, each with the corpus words it was understood as (rag.crosslingual),
    # and those words: what BM25 searched for (shown to the user as "Searched as: …").
    units: tuple[Unit, ...] = ()
    searched_as: tuple[str, ...] = ()

    @property
    def chinese(self) -> bool:
        return self.language == "zh"

    @property
    def terms(self) -> list[str]:
        """The tokens, each once, in order."""
        return list(dict.fromkeys(self.tokens))


def split_question(text: str) -> tuple[str, str, str]:
    """(before, question word, after); the longest question word wins (多少 over the 多 in a name like
    西奥多), the last one on ties."""
    q = text.strip().rstrip("？?。.!！ ")
    matches = list(WH_PATTERN.finditer(q))
    if not matches:
        return q, "", ""
    match = max(matches, key=lambda m: (len(m.group()), m.start()))
    return q[: match.start()], match.group(), q[match.end():]


def analyse(text: str, lexicon: Lexicon | None = None) -> Question:
    """Everything later steps need to know about a (cleaned, self-contained) question; computed once per ask.
    The question word and the kinds are read from the normalised text, so a Traditional or full-width
    question (為什麼, ？) is understood as its Simplified form. With the corpus's `lexicon`, English words
    and romanised names (also inside a Chinese question: `Pingdu 的蛋鸡保险`) become the corpus's Chinese
    words for BM25; an English question keeps its English text for the dense side and the reader."""
    normalised = normalise(text)
    before, wh, after = split_question(normalised)
    chinese = bool(_CJK.search(text))
    asks_count = wh in _COUNT_WORDS or "比例" in normalised or "百分" in normalised
    tokens = search_tokens(normalised)
    units = lexicon.translate(unicodedata.normalize("NFKC", text)).units if lexicon is not None else ()
    if chinese and units:
        # Only romanised names join a Chinese question (`Pingdu 的…`, Unit.romanised: what the reader also reads in the
        # passages' characters), not its other Latin words (`《Embrace》`, `卡拉OK`, `19-K`: CC-CEDICT glosses `OK` as 吧
        # and `K` as 或称, which searched for what the question never asked).
        units = tuple(unit for unit in units if unit.romanised)
    searched = tuple(dict.fromkeys(t for unit in units for t in unit.terms))
    if searched:
        latin = {w.lower() for unit in units if unit.terms for w in unit.text.split()}
        kept = [t for t in tokens if _CJK.search(t)] if not chinese else [t for t in tokens if t not in latin]
        tokens = kept + [t for term in searched for t in search_tokens(term)]
    return Question(
        text=text, normalised=normalised, simplified=to_simplified(text), language="zh" if chinese else "other", wh=wh, before=before, after=after,
        tokens=tuple(tokens), places=tuple(place_names(normalised)) if chinese else (), units=units, searched_as=searched,
        kinds=frozenset(name for name, pattern in ANSWER_KINDS.items() if pattern.search(normalised)),
        asks_number=asks_count or any(w in normalised for w in _DATE_WORDS),
        descriptive=wh in _DESCRIPTIVE_WH if chinese else bool(_ENGLISH_DESCRIPTIVE.search(text)),
        detailed=bool(_DETAILED.search(normalised)),
    )


def as_question(question: Question | str) -> Question:
    """For library callers that hold plain text (scripts, tests); the pipeline passes a Question."""
    return question if isinstance(question, Question) else analyse(question)


def clean_question(question: object, limit: int) -> tuple[str, tuple[str, ...]]:
    """The question as text: control characters removed, whitespace collapsed, cut at `limit` chars."""
    text = question if isinstance(question, str) else ("" if question is None else str(question))
    # Lone surrogates (from broken UTF-16 or a JS client) cannot be encoded anywhere downstream.
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text))
    text = " ".join(text.split())
    notes = []
    if len(text) > limit:
        text = text[:limit]
        notes.append(f"问题过长，只使用了前 {limit} 个字符。(Question truncated to {limit} characters.)")
    return text, tuple(notes)


def has_content(text: str) -> bool:
    """Letters, digits or CJK characters: emoji or punctuation alone are no question."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)
