"""The reader's training data (scripts/reader_data.py): answers checked, articles held back, windows labelled."""
import json
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import reader_data  # noqa: E402

CONTEXT = "鲍家屯村位于胶莱驻地西部。全村共有387户，常住人口912人。村里建有文化广场。" * 8


def squad(tmp_path, answer_start: int, text: str = "912人") -> Path:
    data = {"data": [{"title": "鲍家屯", "paragraphs": [{"context": CONTEXT, "qas": [
        {"id": "q1", "question": "常住人口有多少？", "answers": [{"text": text, "answer_start": answer_start}]}]}]}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_answer_offsets_are_checked_fixed_to_the_nearest_occurrence_or_dropped(tmp_path):
    right = CONTEXT.index("912人")
    rows, report = reader_data.squad_examples(squad(tmp_path, right))
    assert report.to_dict() == {"kept": 1, "fixed": 0, "dropped": 0} and rows[0]["answers"][0]["start"] == right
    second = CONTEXT.index("912人", right + 1)
    rows, report = reader_data.squad_examples(squad(tmp_path, second - 3))
    assert report.fixed == 1 and rows[0]["answers"][0]["start"] == second
    rows, report = reader_data.squad_examples(squad(tmp_path, 0, text="一千人"))
    assert rows == [] and report.dropped == 1
    rows, _ = reader_data.squad_examples(squad(tmp_path, right - 1, text=" 912人"))  # edge spaces are no part of it
    assert rows[0]["answers"][0] == {"text": "912人", "start": right}


def test_validation_holds_back_whole_articles():
    rows = [{"article": a, "id": f"{a}-{i}"} for a in range(30) for i in range(3)]
    train, held = reader_data.split_by_article(rows)
    assert {r["article"] for r in held} == {0, 10, 20} and not {r["article"] for r in train} & {0, 10, 20}
    assert len(train) + len(held) == len(rows)


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("tokenizers")
    from rag.reader_model import ReaderTokenizer

    return ReaderTokenizer.from_folder(ROOT / "models" / "reader-zh")


def test_windows_label_the_answer_tokens_and_the_no_answer_position(tokenizer):
    context = CONTEXT.replace("912人", "九百人", 7)  # the answer text once: a passage repeating it is no negative
    row = {"question": "常住人口有多少？", "context": context, "answers": [{"text": "912人", "start": context.index("912人")}]}
    windows = reader_data.passage_windows(row, tokenizer, 256, 128, random.Random(0), same_article_negative=1.0,
                                          other_passage="青岛地铁1号线于2020年开通。")
    assert len(windows) == 3
    (ids, start, end), negative, other = windows
    assert start > 0 and end >= start
    pieces = tokenizer.tokenizer.decode(list(ids[start:end + 1])).replace(" ", "")
    assert pieces == "912人"
    assert negative[1:] == (0, 0) and other[1:] == (0, 0)
    assert "912人" not in tokenizer.tokenizer.decode(list(negative[0])).replace(" ", "")
    repeated = {"question": "常住人口有多少？", "context": CONTEXT, "answers": row["answers"]}
    assert all(w[1] for w in reader_data.passage_windows(repeated, tokenizer, 256, 128, random.Random(0),
                                                          same_article_negative=1.0))


def test_training_windows_add_other_article_passages_as_no_answer(tokenizer):
    rows = [{"question": "常住人口有多少？", "context": CONTEXT, "answers": [{"text": "912人", "start": CONTEXT.index("912人")}]},
            {"question": "哪年开通？", "context": "青岛地铁1号线于2020年开通。", "answers": [{"text": "2020年", "start": 8}]}]
    windows = reader_data.training_windows(rows, tokenizer, 256, 128, seed=1, same_article_negative=0.0,
                                           other_article_negative=1.0)
    assert len(windows) == 4 and sum(1 for w in windows if w[1:] == (0, 0)) == 2


def test_held_back_rows_go_back_to_squad_form_for_eval():
    rows = [{"id": "q1", "question": "几户？", "context": CONTEXT, "answers": [{"text": "387户", "start": 18}],
             "article": 10, "title": "鲍家屯"}]
    data = reader_data.to_squad(rows)
    paragraph = data["data"][0]["paragraphs"][0]
    assert data["data"][0]["title"] == "鲍家屯" and paragraph["qas"][0]["answers"][0]["answer_start"] == 18
