"""scripts/extend_reader_vocab.py: English words read in e5's own pieces; Chinese text, the existing pieces and
their rows untouched; the shipped reader already carries the pieces; a folder that is not a reader is refused."""
from __future__ import annotations

import importlib.util
import json
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "models" / "reader-zh"
CHINESE = "胶莱街道办事处鲍家屯村位于胶莱驻地西部，全村共有387户，常住人口912人。"


def script():
    spec = importlib.util.spec_from_file_location("extend_reader_vocab", ROOT / "scripts" / "extend_reader_vocab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pieces(folder) -> list[str]:
    return [p for p, _ in json.loads((pathlib.Path(folder) / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]]


@pytest.fixture(scope="module")
def words():
    """A few CC-CEDICT gloss words and pinyin syllables, as the script gathers them (the whole lists take seconds)."""
    english, syllables = script().english_words(2)
    assert {"village", "permanent", "population"} <= set(english) and {"bao", "jia", "tun", "zhong"} <= set(syllables)
    return ["village", "permanent", "population", "cooperatives"], ["bao", "jia", "tun", "zhong", "bin"]


def test_the_shipped_reader_reads_english_words_whole_and_chinese_as_before():
    from rag.reader_model import ReaderTokenizer

    tokenizer = ReaderTokenizer.from_folder(BUNDLED)
    tokens = tokenizer.tokenizer.encode("What is the permanent population of the village?").tokens
    assert "▁permanent" in tokens and "▁village" in tokens
    assert pieces(BUNDLED)[:5] == ["<s>", "<pad>", "</s>", "<unk>", ","]  # the specials keep their ids


def test_passages_are_read_in_the_trained_pieces_and_questions_in_all():
    from rag.reader_model import ReaderTokenizer

    tokenizer = ReaderTokenizer.from_folder(BUNDLED)
    passage = "该公司于1976年由Steve Jobs创立，总部位于Cupertino。"
    trained = json.loads((BUNDLED / "config.json").read_text())["reader"]["trained_vocab_size"]
    ids, _ = tokenizer.tokenize(passage, passage=True)
    assert max(ids) < trained
    assert max(tokenizer.tokenize("the permanent village")[0]) >= trained
    window = tokenizer.encode_windows("Who founded the permanent village?", [passage], 256, 128)[0]
    assert list(window.ids[window.first_context_token:-1]) == ids


def test_nothing_is_left_to_add_to_the_shipped_reader(words):
    assert script().pieces_to_add(*words, set(pieces(BUNDLED))) == []


def test_added_pieces_carry_e5s_rows_and_the_old_ids_keep_theirs(tmp_path, monkeypatch, words):
    from safetensors.numpy import load_file, save_file

    from rag.e5_weights import read_e5_file
    from rag.reader_model import ReaderTokenizer

    module, e5 = script(), read_e5_file()
    # The shipped reader as it was trained: the English pieces (after trained_vocab_size) dropped again.
    trained = json.loads((BUNDLED / "config.json").read_text())["reader"].get("trained_vocab_size")
    if trained is None:
        pytest.skip("the shipped reader was trained with its whole vocabulary (a retrain drops trained_vocab_size)")
    old = tmp_path / "old"
    old.mkdir()
    (old / "normalisation.json").write_bytes((BUNDLED / "normalisation.json").read_bytes())
    config = json.loads((BUNDLED / "config.json").read_text())
    config["vocab_size"] = trained
    del config["reader"]["trained_vocab_size"]
    (old / "config.json").write_text(json.dumps(config))
    tokenizer = json.loads((BUNDLED / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["model"]["vocab"] = tokenizer["model"]["vocab"][:trained]
    (old / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    packed = load_file(str(BUNDLED / "model.safetensors"))
    packed[module.EMBEDDINGS] = packed[module.EMBEDDINGS][:trained]
    save_file(packed, str(old / "model.safetensors"))

    monkeypatch.setattr(module, "english_words", lambda min_count: words)
    report = module.extend(old, tmp_path / "new", 2)
    new = tmp_path / "new"
    added = pieces(new)[trained:]
    assert report["pieces_added"] == len(added) > 0 and set(added) <= set(pieces(BUNDLED)[trained:])
    assert json.loads((new / "config.json").read_text())["vocab_size"] == trained + len(added)
    assert json.loads((new / "config.json").read_text())["reader"]["trained_vocab_size"] == trained
    rows = load_file(str(new / "model.safetensors"))[module.EMBEDDINGS]
    assert np.array_equal(rows[:trained], packed[module.EMBEDDINGS])
    for index, piece in enumerate(added, start=trained):
        assert np.array_equal(rows[index], e5.tensors["emb.word"][e5.pieces.index(piece)])
    before, after = ReaderTokenizer.from_folder(old), ReaderTokenizer.from_folder(new)
    assert before.tokenize(CHINESE) == after.tokenize(CHINESE)
    assert len(after.tokenize("the permanent village")[0]) < len(before.tokenize("the permanent village")[0])
    assert module.extend(new, new, 2)["pieces_added"] == 0  # a second run in place adds nothing


def test_a_folder_that_is_not_a_reader_is_refused(tmp_path):
    (tmp_path / "tokenizer.json").write_bytes((BUNDLED / "tokenizer.json").read_bytes())
    with pytest.raises(SystemExit, match="not a reader folder"):
        script().main([str(tmp_path)])
