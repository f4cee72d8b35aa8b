"""jieba's dictionary as a table: questions cut exactly as the full dictionary cuts them, without loading it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag import jieba_words
from rag.jieba_words import DictionaryWords, build_table, dictionary_words

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "鲍家屯村常住人口有多少？", "平度市累计建成了多少万亩高标准农田?", "洛拉回到意大利时就开始在哪里工作？",
    "哪个品种的锦地罗不需要冬眠？", "福瀛集团董事长是谁", "市南区有多少个住宅小区建立了党组织", "pingdu 的蛋鸡保险",
    "2023年GDP增长了6.5%吗", "《长江七号》的导演是谁?", "c++和c#哪个好", "",
)


def test_questions_and_an_article_are_cut_as_the_full_dictionary_cuts_them():
    from rag.lexical import jieba_ready

    full = jieba_ready()
    article = next((ROOT / "seeds").glob("*.txt")).read_text(encoding="utf-8")[:3000]
    for text in (*QUESTIONS, article):
        table = dictionary_words().tokenizer(text)
        assert table.lcut_for_search(text) == full.lcut_for_search(text), text[:40]
        assert table.lcut(text) == full.lcut(text), text[:40]


def test_a_question_does_not_load_the_whole_dictionary():
    """The point of the table: jieba's one-second dictionary load stays out of a question's path."""
    code = ("import jieba; from rag.question import analyse; q = analyse('平度市有多少家合作社？'); "
            "assert q.places == ('平度',) and '合作社' in q.tokens, q; assert not jieba.dt.initialized")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_table_reads_the_dictionary_as_jieba_does(tmp_path):
    path = tmp_path / "words.sqlite3"
    build_table("平度 30 ns\n平度市 20 ns\n合作 10 v\n合作社 40 n\n合作 12 vn\n".encode(), path)
    import sqlite3

    words = DictionaryWords(sqlite3.connect(path))
    assert words.total == 112 and words.longest == 3  # every line counts in the total, as in jieba
    assert words.entries("平度市的合作社") == {"平度": (30, "ns"), "平度市": (20, "ns"), "合作": (12, "vn"),
                                          "合作社": (40, "n")}  # a repeated word: the later line wins
    assert words.tokenizer("平度市的合作社").FREQ["平"] == 0  # prefixes walk the DAG, as jieba stores them
    assert not list(tmp_path.glob("*.partial"))


def test_an_unwritable_temporary_folder_builds_the_table_in_memory(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(jieba_words, "_table_path", lambda *_: tmp_path / "missing" / "words.sqlite3")
    words = dictionary_words.__wrapped__()
    assert words.tokenizer("平度市").lcut("平度市") == ["平度市"]
    assert "building it in memory" in caplog.text


def test_a_damaged_table_is_built_again(tmp_path, monkeypatch):
    path = tmp_path / "words.sqlite3"
    path.write_bytes(b"not a database" * 100)
    monkeypatch.setattr(jieba_words, "_table_path", lambda *_: path)
    words = dictionary_words.__wrapped__()
    assert words.tokenizer("平度市").lcut("平度市") == ["平度市"] and path.read_bytes()[:15] == b"SQLite format 3"


def test_a_table_of_another_schema_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "words.sqlite3"
    build_table(b"a 1 n\n", path)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    with pytest.raises(sqlite3.DatabaseError, match="schema 0, expected 1"):
        DictionaryWords(db)
