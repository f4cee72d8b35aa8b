"""Parsing page dumps into articles (rag/articles.py), through load_corpus: titles, bylines, captions,
repeats, offsets into the original file."""
from rag.articles import parse_articles
from rag.corpus import load_corpus
from tests.conftest import ROOT


def test_articles_titles_metadata_and_offsets(tiny_corpus):
    articles, texts, warnings = load_corpus(tiny_corpus)
    assert warnings == []
    by_title = {a.title: a for a in articles}
    pingdu = by_title["深化农业农村改革 助力乡村振兴"]
    assert pingdu.metadata["reporter"] == "马丙政"
    assert pingdu.metadata["newspaper"] == "观海新闻/青岛晚报"
    assert pingdu.metadata["date"] == "12月18日"
    for article in articles:
        for paragraph in article.paragraphs:
            for text, start, end in paragraph:
                assert texts[article.source][start:end] == text


def test_caption_dropped_and_broken_sentence_rejoined(tiny_corpus):
    articles, _, _ = load_corpus(tiny_corpus)
    body = "".join(p[0] for a in articles for para in a.paragraphs for p in para)
    assert "揭牌仪式" not in body  # the photo caption between the two halves
    assert "粮食院士专家工作站" in body  # the sentence cut by the page column, rejoined


def test_repeated_paragraph_and_byline_dropped(tiny_corpus):
    articles, _, _ = load_corpus(tiny_corpus)
    jiaozhou = next(a for a in articles if a.source == "jiaozhou.md")
    texts = [p[0] for para in jiaozhou.paragraphs for p in para]
    assert sum("探索成立5个片区" in t for t in texts) == 1
    assert not any("□" in t for t in texts)
    assert jiaozhou.metadata["reporter"] == "张晓帆"
    assert "精准施策" in jiaozhou.sections


def test_seed_files_split_into_articles():
    articles, texts, warnings = load_corpus(ROOT / "seeds")
    assert len(texts) == 5 and warnings == []
    titles = [a.title for a in articles]
    assert "为蛋鸡养殖户收入加上“双保险”" in titles
    assert "西海岸新质生产力中心启动运行" in titles
    assert len(articles) >= 15


def test_inline_byline_is_the_reporter_and_not_part_of_the_text():
    """Issue 21, item 12: "本报讯（记者 王立新 通讯员 李明）近日，…" names the reporter and stays out of
    the sentences (and so out of every answer); offsets still point at the file's own characters."""
    from rag.chunking import chunk_articles

    text = ("平度新建口袋公园\n\n本报讯（记者 王立新 通讯员 李明）近日，平度市新建口袋公园8座。\n\n"
            "即墨新闻\n\n本报讯 (记者 张晓帆) 即墨区今年新建口袋公园5座，全部免费开放。\n")
    first, second = parse_articles(text, "x.txt")
    assert first.metadata["reporter"] == "王立新" and second.metadata["reporter"] == "张晓帆"
    chunks = chunk_articles([first, second], 250, 1)
    assert [c.text for c in chunks] == ["本报讯近日，平度市新建口袋公园8座。", "本报讯即墨区今年新建口袋公园5座，全部免费开放。"]
    for chunk in chunks:
        assert "".join(text[start:end] for _, start, end in chunk.pieces) == chunk.text


def test_the_date_carries_its_year_where_the_page_gives_one():
    """Issue 21, item 8: the dateline's "12月18日" gets the year of the page's date line; an article
    without a dateline is dated by the page; a dateline with its own year keeps it."""
    page = ("青岛日报 2024年12月18日 星期三\n\n# 平度新建口袋公园\n\n本报12月18日讯 平度市新建口袋公园8座。\n\n"
            "# 即墨新闻\n\n即墨区今年新建口袋公园5座。\n\n# 崂山新闻\n\n本报2023年1月2日讯 崂山区新建口袋公园3座。\n")
    dates = [a.metadata.get("date") for a in parse_articles(page, "x.md")]
    assert dates == ["2024年12月18日", "2024年12月18日", "2023年1月2日"]
    assert parse_articles("平度新闻\n\n本报12月18日讯 平度市新建口袋公园8座。\n", "y.txt")[0].metadata["date"] == "12月18日"
