import json

import pytest

from rag.errors import CorpusError
from rag.evaluate import load_jsonl, load_squad


def _write(path, *rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_an_unanswerable_question_has_neither_answers_nor_source(tmp_path):
    data = _write(tmp_path / "qa.jsonl",
                  {"id": "a", "question": "鲍家屯村常住人口有多少？", "answers": ["912人"], "source": "000.txt"},
                  {"id": "b", "question": "What is the population of Berlin?", "answers": [], "source": None},
                  {"id": "c", "question": "东京有多少人？", "answers": [], "source": ""})
    questions = load_jsonl(data)
    assert [(q.id, q.answers, q.source) for q in questions] == [
        ("a", ("912人",), "000.txt"), ("b", (), None), ("c", (), None)]


@pytest.mark.parametrize("row, message", [
    ({"question": "q", "answers": ["912人"], "source": None}, r"qa.jsonl:1: answers without a source file; give both"),
    ({"question": "q", "answers": [], "source": "000.txt"}, r"qa.jsonl:1: source '000.txt' without answers.*\"source\": null"),
    ({"question": "q", "answers": "912人", "source": "000.txt"}, r"qa.jsonl:1: not a question object \(answers must be a list"),
    ({"answers": [], "source": None}, r"qa.jsonl:1: not a question object .*expected"),
])
def test_a_row_that_contradicts_itself_is_named_with_its_line(tmp_path, row, message):
    with pytest.raises(CorpusError, match=message):
        load_jsonl(_write(tmp_path / "qa.jsonl", row))


def test_squad_questions_without_answers_are_unanswerable(tmp_path):
    data = tmp_path / "squad.json"
    data.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"id": "p1", "context": "鲍家屯村常住人口912人。", "qas": [
        {"id": "q1", "question": "常住人口有多少？", "answers": [{"text": "912人", "answer_start": 8}]},
        {"id": "q2", "question": "东京有多少人？", "answers": [], "is_impossible": True}]}]}]}, ensure_ascii=False),
        encoding="utf-8")
    _, _, questions = load_squad(data)
    assert [(q.id, q.source, q.spans) for q in questions] == [("q1", "p1", ((8, 12),)), ("q2", None, ())]


@pytest.mark.parametrize("name, content, message", [
    ("qa.jsonl", b"\xff\xfe\n", r"qa.jsonl is not UTF-8 text .*save it as UTF-8"),
    ("squad.json", b"not json", r"squad.json: not JSON .*SQuAD-style"),
    ("squad.json", b"[1, 2]", r"squad.json: expected SQuAD-style data .*not a JSON list"),
])
def test_an_unreadable_question_file_is_named_with_what_to_do(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        (load_squad if name.endswith(".json") else load_jsonl)(path)
