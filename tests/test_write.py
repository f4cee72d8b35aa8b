"""embed_and_write: what is written in, what was measured out (check_index / ensure_index: test_build.py)."""
from __future__ import annotations

from rag.chunking import chunk_articles
from rag.corpus import corpus_fingerprint_of, load_corpus
from rag.embedding import make_embedder
from rag.embedding_cache import cache_from_index
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
