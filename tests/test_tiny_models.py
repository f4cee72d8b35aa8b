"""Offline smoke tests for the tiny random-weight models in tests/tiny_models.py.

Skipped cleanly when the optional ML stack (torch, transformers,
sentence-transformers) is not installed.
"""

from __future__ import annotations

import warnings

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
sentence_transformers = pytest.importorskip("sentence_transformers")

try:  # works whether or not tests/ is a package
    from tests.tiny_models import (
        DOCUMENT_PROMPT,
        QUERY_PROMPT,
        build_tiny_qa_model,
        build_tiny_sentence_transformer,
        extract_span,
    )
except ImportError:  # pragma: no cover - depends on rootdir / import mode
    from tiny_models import (  # type: ignore[no-redef]
        DOCUMENT_PROMPT,
        QUERY_PROMPT,
        build_tiny_qa_model,
        build_tiny_sentence_transformer,
        extract_span,
    )

TEXTS = [
    "新华社北京电 今年上半年国内生产总值同比增长5.3%。",
    "教育部：全国高考将于六月七日开始。",
    "Hello world",
]
CONTEXT = "据报道，今年上半年我国国内生产总值同比增长百分之五点三，就业形势总体稳定，居民消费价格温和上涨。"
QUESTION = "国内生产总值增长了多少？"


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def st_dir(tmp_path_factory):
    return build_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny_st"))


@pytest.fixture(scope="module")
def qa_dir(tmp_path_factory):
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny_qa"))


def _load_st(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def test_sentence_transformer_loads_offline_and_normalises(st_dir, offline):
    model = _load_st(st_dir)
    dim = model.get_embedding_dimension()
    assert dim == 32
    assert model.max_seq_length == 128

    emb = model.encode(TEXTS, convert_to_numpy=True)
    assert emb.shape == (len(TEXTS), dim)
    assert emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # Different texts give different vectors (the model is not degenerate).
    assert not np.allclose(emb[0], emb[1])


def test_sentence_transformer_is_deterministic(st_dir, tmp_path, offline):
    model = _load_st(st_dir)
    a = model.encode(TEXTS)
    b = model.encode(list(TEXTS))
    np.testing.assert_array_equal(a, b)
    # Single-string input gives a 1-D vector equal to the batched row.
    single = model.encode(TEXTS[0])
    assert single.shape == (32,)
    np.testing.assert_allclose(single, a[0], atol=1e-6)

    # Rebuilding from scratch with the same seed gives the same model.
    rebuilt = _load_st(build_tiny_sentence_transformer(tmp_path / "again"))
    np.testing.assert_allclose(rebuilt.encode(TEXTS), a, atol=1e-6)


def test_sentence_transformer_prompts(st_dir, offline):
    model = _load_st(st_dir)
    assert model.prompts == {"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT}
    text = ["经济增长"]
    q = model.encode_query(text)
    d = model.encode_document(text)
    raw = model.encode(text)
    np.testing.assert_allclose(q, model.encode([QUERY_PROMPT + text[0]]), atol=1e-6)
    np.testing.assert_allclose(d, model.encode([DOCUMENT_PROMPT + text[0]]), atol=1e-6)
    np.testing.assert_allclose(q, model.encode(text, prompt_name="query"), atol=1e-6)
    assert not np.allclose(q, raw)
    assert not np.allclose(q, d)


def test_old_dimension_method_warns(st_dir, offline):
    model = _load_st(st_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert model.get_sentence_embedding_dimension() == 32
    assert any(issubclass(w.category, FutureWarning) for w in caught)


def test_vocab_covers_chinese(st_dir, offline):
    model = _load_st(st_dir)
    tokens = model.tokenizer.tokenize(CONTEXT + "GDP 2024")
    assert "[UNK]" not in tokens
    assert tokens[:3] == ["据", "报", "道"]


def test_qa_pipeline_task_removed_in_transformers_5():
    major = int(transformers.__version__.split(".")[0])
    if major < 5:
        pytest.skip("question-answering pipeline still exists before transformers 5")
    with pytest.raises(KeyError, match="question-answering"):
        transformers.pipeline("question-answering")


def test_qa_extract_span_offline(qa_dir, offline):
    answer, start, end, score = extract_span(qa_dir, QUESTION, CONTEXT)
    assert isinstance(answer, str) and answer
    assert 0 <= start < end <= len(CONTEXT)
    assert CONTEXT[start:end] == answer
    assert 0.0 <= score <= 1.0
    # Deterministic.
    assert extract_span(qa_dir, QUESTION, CONTEXT) == (answer, start, end, score)


def test_qa_extract_span_long_context_windows(qa_dir, offline):
    long_context = "。".join([CONTEXT] * 20)  # ~1000 chars > one 128-token window
    answer, start, end, score = extract_span(
        qa_dir, QUESTION, long_context, max_length=128, stride=32, max_answer_tokens=10
    )
    assert long_context[start:end] == answer
    assert 0 < end - start <= 10 * 4  # at most 10 tokens (CJK tokens are 1 char)
    assert 0.0 <= score <= 1.0


def test_qa_model_loads_with_auto_classes(qa_dir, offline):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(qa_dir), local_files_only=True)
    model = AutoModelForQuestionAnswering.from_pretrained(str(qa_dir), local_files_only=True)
    enc = tok(QUESTION, CONTEXT, return_tensors="pt", return_offsets_mapping=True)
    enc.pop("offset_mapping")
    with torch.inference_mode():
        out = model(**enc)
    n = enc["input_ids"].shape[1]
    assert out.start_logits.shape == (1, n)
    assert out.end_logits.shape == (1, n)
