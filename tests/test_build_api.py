"""The build step's small API: embed_and_write (what is written in, what was measured out) and
check_index / ensure_index (load and check, or build when missing or stale)."""
from __future__ import annotations

import pytest

from rag.build import check_index, ensure_index
from rag.chunking import chunk_articles
from rag.corpus import corpus_fingerprint_of, load_corpus
from rag.embedding import make_embedder
from rag.embedding_cache import cache_from_index
from rag.errors import IndexMismatch, IndexNotFound
from rag.store.folder import Index
from rag.write import IndexContent, Written, embed_and_write


def test_embed_and_write_returns_what_it_measured_and_leaves_the_cache_alone(tiny_config):
    articles, sources, _ = load_corpus(tiny_config.corpus_dir)
    chunks = chunk_articles(articles, tiny_config.chunk_size, tiny_config.chunk_overlap)
    content = IndexContent(chunks, sources, len(articles), corpus_fingerprint_of(tiny_config.corpus_dir))
    embedder = make_embedder(tiny_config.embedder)
    written = embed_and_write(tiny_config, embedder, content)
    assert isinstance(written, Written) and written.embedded == len(chunks)
    assert list(written.stage_seconds) == ["embed", "embed_sentences", "tokenize", "write"]
    index = Index.load(tiny_config.index_dir, embedder.name)
    assert [c.id for c in index.chunks] == [c.id for c in chunks] and index.manifest["added"] == {}
    assert index.manifest["articles"] == len(articles)

    cache = cache_from_index(tiny_config.index_dir, embedder.name)
    before = dict(cache)
    again = embed_and_write(tiny_config, embedder, content, cache=cache)
    assert again.embedded == 0 and cache.keys() == before.keys()  # everything reused, nothing added to it


def test_check_index_loads_without_building(tiny_config, tiny_corpus):
    with pytest.raises(IndexNotFound, match="python -m rag build"):
        check_index(tiny_config)
    assert not tiny_config.index_dir.exists()


def test_ensure_index_builds_once_then_loads(tiny_config, tiny_corpus):
    messages = []
    index, embedder, note = ensure_index(tiny_config, messages.append)
    assert embedder is not None and embedder.name == index.manifest["embedder"] and note == ""
    assert any("building the index now" in m for m in messages)
    messages.clear()
    index, embedder, note = ensure_index(tiny_config, messages.append)
    assert embedder is None and messages == [] and len(index.chunks) > 0

    (tiny_corpus / "pingdu.txt").write_text("改过的文章。\n\n本报讯 新的内容。\n", encoding="utf-8")
    with pytest.raises(IndexMismatch, match="is stale: pingdu.txt"):
        check_index(tiny_config)
    index, embedder, _ = ensure_index(tiny_config)  # stale: rebuilt
    assert embedder is not None and "改过的文章" in index.sources["pingdu.txt"]
