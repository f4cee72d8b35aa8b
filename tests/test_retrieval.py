from rag.store.folder import Index
from rag.retrieval import retrieve, rrf, top_k
from rag.embedding import HashEmbedder


def test_rrf_fuses_ranks():
    fused = rrf([[1, 2, 3], [3, 1]], [1.0, 1.0], k=10)
    assert top_k(fused, 2)[0][0] == 1  # ranked 1st and 2nd beats 3rd and 1st
    assert set(fused) == {1, 2, 3}


def test_rrf_weights_and_empty_rankings():
    assert rrf([[], [5]], [1.0, 0.0], k=10) == {5: 0.0}
    assert top_k({}, 3) == []


def test_top_k_is_deterministic_on_ties():
    assert top_k({3: 1.0, 1: 1.0, 2: 0.5}, 2) == [(1, 1.0), (3, 1.0)]


def test_hybrid_retrieval_finds_the_right_passage(tiny_index):
    index = Index.load(tiny_index.index_dir, "hash:64")
    vector = HashEmbedder(64).embed_queries(["澳门路农贸市场片区查处电动车不戴头盔多少起？"])[0]
    found = retrieve(index, vector, "澳门路农贸市场片区查处电动车不戴头盔多少起？", tiny_index, k=3)
    assert "128起" in found[0].text
    assert all(c.score is not None for c in found)
    assert len(found) <= 3


def test_k_is_capped_at_corpus_size(tiny_index):
    index = Index.load(tiny_index.index_dir, "hash:64")
    vector = HashEmbedder(64).embed_queries(["平度"])[0]
    found = retrieve(index, vector, "平度", tiny_index, k=1000)
    assert len(found) == len(index.chunks)


def test_traditional_question_matches_simplified_corpus(tiny_index):
    index = Index.load(tiny_index.index_dir, "hash:64")
    question = "平度市累計建成了多少萬畝高標準農田？"
    vector = HashEmbedder(64).embed_queries([question])[0]
    found = retrieve(index, vector, question, tiny_index, k=1, mode="bm25")
    assert "155.2万亩" in found[0].text
