"""jieba's dictionary as an SQLite table: a question is segmented without loading the whole dictionary.

jieba keeps its dictionary (349k words; with every prefix 498k entries) in one Python dict that it
unmarshals on first use: about 1 s of every CLI question, more than all the rest of the question's work.
Segmenting a text only ever looks up substrings of that text (the DAG, the route, the HMM fallback for
runs of single characters and search mode's 2- and 3-grams all do), so a `jieba.Tokenizer` whose FREQ
holds just the dictionary entries among the text's substrings, and the full total, cuts the text exactly
as the full dictionary does (tests/test_jieba_words.py compares them on questions and a seed article).
The table is built once from jieba's dict.txt (≈ 2 s) into the temporary folder, beside jieba's own
cache, and opened read-only afterwards (milliseconds). Corpus texts (index builds, uploads) still go
through the full jieba (rag.lexical.jieba_ready): for megabytes of text one load is cheaper than
millions of lookups.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import tempfile
import threading
from pathlib import Path

_SCHEMA = 1
_BATCH = 500  # substrings per query, well under SQLite's bound on query parameters (999 in old builds)
# jieba cuts only runs of these characters with its dictionary (its re_han_default); nothing else can match.
_CUT_RUN = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+")
log = logging.getLogger(__name__)


def _read_dictionary(raw: bytes):
    """(word, frequency, tag) per line of jieba's dict.txt, read as jieba reads it (later lines win)."""
    for line in raw.splitlines():
        parts = line.strip().decode("utf-8").split(" ")
        if len(parts) >= 2 and parts[0]:
            yield parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""


def build_table(raw: bytes, path: Path | str) -> None:
    """Write the dictionary `raw` (dict.txt's bytes) as the table at `path` (":memory:" is not allowed:
    the caller opens the file afterwards); written to a temporary name and renamed, so a reader never sees
    half a table."""
    path = Path(path)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        fill_table(db, raw)
        db.commit()
    finally:
        db.close()
    os.replace(partial, path)


def fill_table(db: sqlite3.Connection, raw: bytes) -> None:
    rows = list(_read_dictionary(raw))
    db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, freq INTEGER NOT NULL, tag TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.executemany("INSERT OR REPLACE INTO words VALUES (?, ?, ?)", rows)
    db.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("schema", str(_SCHEMA)),
        ("total", str(sum(freq for _, freq, _ in rows))),  # jieba sums every line, repeated words too
        ("longest", str(max(len(word) for word, _, _ in rows))),
    ])


class DictionaryWords:
    """jieba's dictionary behind one SQLite connection (the state: shared by threads, behind a lock)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()
        meta = dict(db.execute("SELECT key, value FROM meta"))
        if int(meta.get("schema", 0)) != _SCHEMA:
            raise sqlite3.DatabaseError(f"jieba word table of schema {meta.get('schema')}, expected {_SCHEMA}")
        self.total, self.longest = int(meta["total"]), int(meta["longest"])

    def entries(self, text: str) -> dict[str, tuple[int, str]]:
        """word → (frequency, part-of-speech tag) for every dictionary word that occurs in text."""
        substrings = sorted({
            run[start:start + length]
            for run in _CUT_RUN.findall(text)
            for start in range(len(run))
            for length in range(1, min(self.longest, len(run) - start) + 1)
        })
        found = {}
        with self._lock:
            for i in range(0, len(substrings), _BATCH):
                batch = substrings[i:i + _BATCH]
                query = f"SELECT word, freq, tag FROM words WHERE word IN ({','.join('?' * len(batch))})"
                found.update((word, (freq, tag)) for word, freq, tag in self._db.execute(query, batch))
        return found

    def tokenizer(self, text: str, found: dict[str, tuple[int, str]] | None = None):
        """A jieba.Tokenizer that cuts `text` (and any text made of its substrings) as the full dictionary
        would; `found` is entries(text) when the caller already has it."""
        import jieba

        found = self.entries(text) if found is None else found
        freq: dict[str, int] = {}
        for word in found:  # jieba also stores every prefix of a word (frequency 0): its DAG walks them
            for end in range(1, len(word)):
                freq.setdefault(word[:end], 0)
        freq.update((word, count) for word, (count, _) in found.items())
        tokenizer = jieba.Tokenizer()
        tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, self.total, True
        return tokenizer


def _table_path(dictionary: Path, version: str) -> Path:
    size = dictionary.stat().st_size
    return Path(tempfile.gettempdir()) / f"rag-jieba-words-{version}-{size}-{_SCHEMA}.sqlite3"


@functools.lru_cache(maxsize=1)
def dictionary_words() -> DictionaryWords:
    """jieba's default dictionary as a table: opened from the temporary folder, built there on first use.
    Where that folder cannot be written the table is built in memory (one process pays the build)."""
    import jieba

    dictionary = Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)
    path = _table_path(dictionary, jieba.__version__)
    try:
        try:
            if not path.exists():
                build_table(dictionary.read_bytes(), path)
            return DictionaryWords(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))
        except sqlite3.DatabaseError:  # a damaged file (a full disk, another program): build it once more
            path.unlink(missing_ok=True)
            build_table(dictionary.read_bytes(), path)
            return DictionaryWords(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))
    except (OSError, sqlite3.Error) as error:
        log.warning("jieba word table %s unusable (%s); building it in memory for this process", path, error)
        db = sqlite3.connect(":memory:", check_same_thread=False)
        fill_table(db, dictionary.read_bytes())
        return DictionaryWords(db)

