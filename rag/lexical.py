"""Text normalisation and jieba tokens for BM25 (scoring itself lives in bm25s).

bm25s's default splitter keeps a whole Chinese run as one token, so we pass jieba tokens instead.
Traditional Chinese is folded to Simplified (OpenCC) and full-width forms to half-width (NFKC),
so 「平度市累計建成」 matches 平度市累计建成.
"""
from __future__ import annotations

import functools
import logging
import re
import unicodedata

# Question words, function words and frequent news boilerplate that carry no topic.
STOPWORDS = frozenset(
    """
    的 了 和 与 及 或 在 是 为 对 把 被 从 向 于 以 之 其 这 那 此 该 也 都 就 而 并 等 等等 个 中 上 下 里
    着 过 吗 呢 吧 啊 呀 么 有 没有 无 不 将 已 已经 还 又 再 更 最 很 所 所以 因为 如果 但 但是 可以 能 会
    什么 多少 几 几个 哪 哪个 哪些 哪里 哪儿 哪一年 哪年 哪天 谁 何 何时 何地 为何 如何 怎么 怎样 怎么样
    是否 是不是 多久 多长 多大 多高 多远 几时 啥 请问 一下 一个 一种 一些 我 你 他 她 它 我们 你们 他们 她们 它们
    the a an of to in on for and or is are was were be been by with what which who whom whose when where
    why how many much does do did it its that this as at from
    """.split()
)
_TOKEN = re.compile(r"\w", re.UNICODE)


@functools.lru_cache(maxsize=1)
def _converter():
    try:
        import opencc
    except ImportError:  # optional: without it Traditional questions still work, less well
        return None
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified only (case and width kept), as the articles are written."""
    converter = _converter()
    return converter.convert(text) if converter is not None else text


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), Traditional → Simplified, lower case."""
    # The same sentences, passages and articles are normalised question after question: the last 4,096 texts of
    # up to 8,000 characters are kept (at most about 130 MB of text even if every one were that long; a
    # question's sentences and passages are tens to hundreds of characters, a whole file read at build time is
    # not kept).
    return _normalised(text) if len(text) <= 8_000 else _normalise(text)


@functools.lru_cache(maxsize=4096)
def _normalised(text: str) -> str:
    return _normalise(text)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    converter = _converter()
    if converter is not None:
        text = converter.convert(text)
    return text.lower()


@functools.lru_cache(maxsize=1)
def jieba_ready():
    """jieba, its dictionary loaded (once a process)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces its dictionary load on stderr otherwise
    jieba.initialize()
    return jieba


def _content(tokens: list[str]) -> list[str]:
    return [token for token in tokens if token.strip() and _TOKEN.search(token) and token not in STOPWORDS]


def tokenize(text: str) -> list[str]:
    """jieba search-mode tokens of the normalised text, without stopwords and punctuation (corpus texts:
    the full dictionary, loaded once)."""
    return _content(jieba_ready().lcut_for_search(normalise(text)))


@functools.lru_cache(maxsize=256)
def _question_words(normalised: str):
    """A tokenizer holding the dictionary words found in this question, and those words → (frequency, tag):
    looked up in rag.jieba_words' table, so a question does not load the whole dictionary (≈ 1 s)."""
    from rag.jieba_words import dictionary_words

    words = dictionary_words()
    found = words.entries(normalised)
    return words.tokenizer(normalised, found), found


def search_tokens(normalised: str) -> list[str]:
    """The tokens `tokenize` gives a question (already normalised: rag.question.analyse has it at hand), cut
    with just the dictionary words that occur in it: the same tokens (tests/test_jieba_words.py)."""
    return list(_search_tokens(normalised))


@functools.lru_cache(maxsize=4096)  # an English question's Chinese terms are the corpus's words, asked again and again
def _search_tokens(normalised: str) -> tuple[str, ...]:
    return tuple(_content(_question_words(normalised)[0].lcut_for_search(normalised)))


def tokenize_many(texts: list[str]) -> list[list[str]]:
    return [tokenize(text) for text in texts]


# Administrative suffixes of Chinese place names (平度市, 辛安街道), longest first: one list for the place
# rule of the answer (rag.answer) and for follow-up questions (rag.dialogue).
PLACE_SUFFIX = "特别行政区|自治区|自治州|街道|社区|省|市|县|区|镇|乡|村"
_ENDS_IN_PLACE_SUFFIX = re.compile(f"(?:{PLACE_SUFFIX})$")


@functools.lru_cache(maxsize=1024)
def tagged_words(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's part-of-speech tagging: (word, tag) pairs that concatenate to text (cached: a question is
    tagged once however many steps ask). Only follow-up questions need it (rag.dialogue): importing
    jieba.posseg costs about a second."""
    from jieba import posseg

    jieba_ready()
    return tuple((word, tag) for word, tag in posseg.lcut(text))


def place_names(text: str) -> list[str]:
    """Place names of jieba's dictionary in the text (the words it tags ns) and the other names CC-CEDICT lists only
    as proper nouns (柏林, which jieba tags a person's name; rag.cedict.chinese_names), each without its
    administrative suffix (平度市 → 平度). The tags come from the dictionary, not from `jieba.posseg`: importing
    posseg parses the whole dictionary into a word-tag table (≈ 1 s of a CLI question), and its HMM tags unknown
    words as places by guesswork (锦地罗不, 洛拉: 38 of 1,018 CMRC trial and seed questions)."""
    from rag.cedict import chinese_names

    segmenter, found = _question_words(text)
    proper, names = chinese_names(), []
    for word in segmenter.lcut(text):
        stem = _ENDS_IN_PLACE_SUFFIX.sub("", word)
        if ((found.get(word, (0, ""))[1] == "ns" or word in proper) and len(stem) >= 2
                and stem not in names):
            names.append(stem)
    return names
