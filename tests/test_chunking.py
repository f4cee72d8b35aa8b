from rag.chunking import answer_sentences, chunk_articles, split_sentences
from rag.corpus import load_corpus


def test_sentences_keep_closing_quotes():
    text = "他说：“好。”然后走了！真的吗？是的……"
    parts = [text[a:b] for a, b in split_sentences(text)]
    assert parts == ["他说：“好。”", "然后走了！", "真的吗？", "是的……"]


def test_chunks_cut_at_semicolons_answers_do_not():
    text = "花为圆锥花序；花淡红色。果期秋季"
    assert [text[a:b] for a, b in split_sentences(text)] == ["花为圆锥花序；", "花淡红色。", "果期秋季"]
    assert [text[a:b] for a, b in answer_sentences(text)] == ["花为圆锥花序；花淡红色。", "果期秋季"]


def test_decimal_point_is_not_a_sentence_end():
    text = "累计建成高标准农田155.2万亩。"
    assert [text[a:b] for a, b in split_sentences(text)] == [text]


def test_chunks_never_cut_sentences_and_map_to_original(tiny_corpus):
    articles, texts, _ = load_corpus(tiny_corpus)
    chunks = chunk_articles(articles, chunk_size=60, overlap=1)
    assert chunks
    for chunk in chunks:
        assert chunk.text[-1] in "。！？；”…" or chunk.text.endswith("亩")  # whole sentences only
        for pos, start, end in chunk.pieces:
            assert chunk.text[pos:pos + end - start] == texts[chunk.source][start:end]
        assert chunk.title and chunk.source in texts


def test_overlap_repeats_one_sentence(tiny_corpus):
    articles, _, _ = load_corpus(tiny_corpus)
    chunks = [c for c in chunk_articles(articles, chunk_size=80, overlap=1) if c.source == "pingdu.txt"]
    assert len(chunks) >= 2
    multi = [(a, b) for a, b in zip(chunks, chunks[1:]) if len(split_sentences(a.text)) >= 2]
    assert multi
    for before, after in multi:
        last = split_sentences(before.text)[-1]
        assert after.text.startswith(before.text[last[0]:last[1]])


def test_chunk_ids_are_content_hashes(tiny_corpus):
    articles, _, _ = load_corpus(tiny_corpus)
    first = chunk_articles(articles, 60, 1)
    second = chunk_articles(articles, 60, 1)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
