"""Reading each format (rag/readers): HTML pages, PDFs, Word files, article records, text; what is skipped and
why; markup never indexed; a mixed folder built and answered from, every file indexed or listed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.documents import make_csv, make_docx, make_html, make_jsonl, make_pdf
from rag.build import build_index
from rag.config import Config
from rag.corpus import load_corpus
from rag.embedding import make_embedder
from rag.pipeline import Pipeline
from rag.readers import SkipFile, date_with_year, read_document, sniff
from rag.readers.pdf import _SUPPLEMENT, fold_radicals
from rag.store.folder import Index
from tests.helpers import HASH, check_answer

HTML_STORY = ["本报12月14日讯 崂山区今年以来持续推进垃圾分类工作，全年清理生活垃圾66400吨，居民参与率明显提升。",
              "下一步，崂山区将继续完善分类设施，推动垃圾分类工作常态化、长效化，让城市环境更加整洁。"]
PDF_PAGES = [["胶州市召开乡村振兴工作会议", "本报12月18日讯 会议指出，今年胶州市新建高标准农田", "十二万亩，粮食总产量再创新高。"],
             ["李沧区城市更新见成效", "本报12月17日讯 今年以来，李沧区完成⽼旧⼩区改造四十⼆个，惠及居",
              "⺠一万三千余户，群众满意度持续提升。"]]
DOCX_BODY = ["今年以来，黄岛区新增城市绿地三百亩，建成口袋公园二十一座，市民出门见绿。",
             "黄岛区还新建绿道八十公里，串联起山海城之间的主要景点。"]
RECORDS = [{"title": "即墨区修路四十公里", "content": "<p>即墨区今年修建农村公路四十公里，惠及群众二十万人。</p>",
            "date": "2022-12-10 08:30", "source": "即墨新闻", "url": "https://news.example.cn/jimo/1.html"},
           {"title": "没有正文的记录"},
           {"title": "莱西市植树造林", "content": "莱西市今年春季植树五千棵，新增造林面积两千亩。", "date": "2022年3月12日"}]
CSV_RECORDS = [{"title": "市北区开通公交线路", "text": "市北区新开通公交线路八条，方便市民出行。", "date": "2022-11-02",
                "url": "https://news.example.cn/shibei/8.html"}]


def write_mixed_folder(folder: Path) -> Path:
    """Every format, plus what must be skipped with a reason: a scan, an empty file, an image named .html."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "崂山新闻.html").write_bytes(make_html("崂山区垃圾分类成效显著", HTML_STORY, date="2022-12-15",
                                                 author="张晓帆", site="青岛新闻网"))
    (folder / "epaper.pdf").write_bytes(make_pdf(PDF_PAGES, title="青岛日报", created="2022-12-19"))
    (folder / "黄岛.docx").write_bytes(make_docx("黄岛区新增绿地三百亩", DOCX_BODY))
    (folder / "records.jsonl").write_bytes(make_jsonl(RECORDS))
    (folder / "records.csv").write_bytes(make_csv(CSV_RECORDS))
    (folder / "pingdu.txt").write_text("平度新闻\n\n平度市累计建成高标准农田155.2万亩，粮食产量稳定在29亿斤以上。\n", encoding="utf-8")
    (folder / "scan.pdf").write_bytes(make_pdf([["扫描件"]], text=False))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (folder / "notes.doc").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 64)
    return folder


SKIP_REASONS = {
    "scan.pdf": "no text layer",
    "empty.txt": "empty file",
    "photo.html": "its content is a PNG image, not an HTML page",
    "notes.doc": "unsupported type .doc: save it as .docx",
}
QUESTIONS = [  # (question, source, the text the answer must come from)
    ("崂山区全年清理生活垃圾多少吨？", "崂山新闻.html", "66400吨"),
    ("胶州市今年新建高标准农田多少万亩？", "epaper.pdf", "十二万亩"),
    ("李沧区完成老旧小区改造多少个？", "epaper.pdf", "四十二个"),
    ("黄岛区建成口袋公园多少座？", "黄岛.docx", "二十一座"),
    ("即墨区今年修建农村公路多少公里？", "records.jsonl", "四十公里"),
    ("市北区新开通公交线路几条？", "records.csv", "八条"),
    ("平度市累计建成高标准农田多少万亩？", "pingdu.txt", "155.2万亩"),
]


def read(tmp_path: Path, name: str, raw: bytes):
    path = tmp_path / name
    path.write_bytes(raw)
    return read_document(path, name)


# ----------------------------------------------------------------------------------------------
# One per format
# ----------------------------------------------------------------------------------------------

def test_html_page_main_text_without_boilerplate(tmp_path):
    document = read(tmp_path, "page.html", make_html("崂山区垃圾分类成效显著", HTML_STORY, date="2022-12-15",
                                                     author="张晓帆", site="青岛新闻网"))
    assert document.text == "\n".join(HTML_STORY)
    for boilerplate in ("首页", "体育", "广告", "版权所有", "tracker", "color:red", "<", ">"):
        assert boilerplate not in document.text
    [article] = document.articles
    assert article.title == "崂山区垃圾分类成效显著"
    assert article.metadata == {"author": "张晓帆", "site": "青岛新闻网", "dateline": "本报12月14日讯",
                                "date": "2022-12-14"}  # the dateline's day, with the page's year


def test_pdf_text_layer_pages_and_radicals(tmp_path):
    document = read(tmp_path, "epaper.pdf", make_pdf(PDF_PAGES, title="青岛日报", created="2022-12-19"))
    assert "老旧小区改造四十二个，惠及居民一万三千余户" in document.text.replace("\n", "")  # radicals folded back
    assert not re.search("[\u2e80-\u2fdf]", document.text)
    by_title = {a.title: a for a in document.articles}
    farm, city = by_title["胶州市召开乡村振兴工作会议"], by_title["李沧区城市更新见成效"]
    assert farm.metadata["page"] == "1" and city.metadata["page"] == "2"
    assert farm.metadata["date"] == "2022-12-18"  # dateline 12月18日 + the PDF's year
    # a line broken by the layout is rejoined into one sentence
    assert any("新建高标准农田十二万亩" in "".join(t for t, _, _ in p) for p in farm.paragraphs)


def test_fold_radicals_kangxi_and_supplement():
    assert fold_radicals("⻢⼭社区⽼旧管⽹") == "马山社区老旧管网"
    assert fold_radicals("，。！0-9 abc 青岛") == "，。！0-9 abc 青岛"  # nothing else changes
    import unicodedata

    for radical, ideograph in _SUPPLEMENT.items():  # every target is a unified ideograph
        assert 0x2E80 <= ord(radical) <= 0x2EFF and unicodedata.name(ideograph).startswith("CJK UNIFIED IDEOGRAPH")


def test_docx_paragraphs_and_headings(tmp_path):
    document = read(tmp_path, "a.docx", make_docx("黄岛区新增绿地三百亩", DOCX_BODY, {"绿道建设": ["绿道全长八十公里。"]}))
    [article] = document.articles
    assert article.title == "黄岛区新增绿地三百亩"
    assert article.sections[-1] == "绿道建设"
    body = ["".join(t for t, _, _ in p) for p in article.paragraphs]
    assert body == [*DOCX_BODY, "绿道全长八十公里。"]


def test_jsonl_records_one_article_each_with_fields(tmp_path):
    document = read(tmp_path, "news.jsonl", make_jsonl(RECORDS))
    first, second = document.articles
    assert first.title == "即墨区修路四十公里" and second.title == "莱西市植树造林"
    assert first.metadata == {"record": "1", "date": "2022-12-10", "site": "即墨新闻",
                              "url": "https://news.example.cn/jimo/1.html"}
    assert second.metadata == {"record": "3", "date": "2022-03-12"}
    assert "<p>" not in document.text and "即墨区今年修建农村公路四十公里" in document.text
    assert document.notes == ["news.jsonl: record 2: no content/text/body field with text"]  # said, not dropped


def test_csv_records(tmp_path):
    [article] = read(tmp_path, "news.csv", make_csv(CSV_RECORDS)).articles
    assert article.metadata["url"] == "https://news.example.cn/shibei/8.html" and article.metadata["record"] == "1"


def test_txt_and_md_as_before(tmp_path):
    text = "# 标题\n\n正文第一句。\n"
    document = read(tmp_path, "a.md", text.encode("utf-8"))
    assert document.text == text and document.articles[0].title == "标题"


def test_offsets_index_into_the_extracted_text(tmp_path):
    folder = write_mixed_folder(tmp_path / "mixed")
    articles, texts, _ = load_corpus(folder)
    for article in articles:
        for paragraph in article.paragraphs:
            for piece, start, end in paragraph:
                assert texts[article.source][start:end] == piece


# ----------------------------------------------------------------------------------------------
# Skipped with a reason; read by content
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, raw, reason", [
    ("scan.pdf", make_pdf([["扫描"]], text=False), "no text layer"),
    ("photo.html", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "its content is a PNG image"),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj<</Type/Catalog", "damaged PDF"),
    ("notes.pdf", "这不是PDF。".encode(), "not a PDF: its content is text"),
    ("broken.docx", b"PK\x03\x04word/" + b"\x00" * 40, "damaged Word file"),
    ("old.doc", b"\xd0\xcf\x11\xe0", "unsupported type .doc: save it as .docx"),
    ("sheet.xlsx", b"PK\x03\x04", "unsupported type .xlsx: export the articles as .csv"),
    ("empty.jsonl", b"{}\n", "no record with article text"),
    ("nav.html", b"<html><body><script>var a = 1;</script></body></html>", "no article text in the page"),
])
def test_skip_reasons(tmp_path, name, raw, reason):
    with pytest.raises(SkipFile, match=re.escape(reason)):
        read(tmp_path, name, raw)


def test_encrypted_pdf_skipped(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(__import__("io").BytesIO(make_pdf(PDF_PAGES))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    writer.write(path)
    with pytest.raises(SkipFile, match="encrypted PDF"):
        read_document(path, "locked.pdf")


def test_read_by_content_when_type_and_content_disagree(tmp_path):
    document = read(tmp_path, "epaper.html", make_pdf(PDF_PAGES))  # a PDF saved as .html
    assert "read as a PDF (its content)" in document.notes[0] and document.articles[0].metadata["page"] == "1"
    page = read(tmp_path, "saved.txt", make_html("崂山区垃圾分类成效显著", HTML_STORY))  # a page saved as .txt
    assert page.text == "\n".join(HTML_STORY)


def test_sniff():
    assert sniff(b"  %PDF-1.4") == "pdf" and sniff(b"<!DOCTYPE html><html>") == "html"
    assert sniff("<!-- c --><HTML><body>".encode()) == "html" and sniff("纯文本 <b>".encode()) == "text"
    assert sniff(b"\xff\xd8\xff\xe0") == "a JPEG image"


def test_dateline_without_a_document_date_keeps_no_year():
    from rag.articles import Article

    article = Article("a.txt", "t", 0, metadata={"date": "12月14日"})
    date_with_year([article], "")
    assert article.metadata["date"] == "12月14日"
    date_with_year([article], "2023-01-03")  # a December story in a January issue: the year before
    assert article.metadata["date"] == "2022-12-14"


# ----------------------------------------------------------------------------------------------
# A mixed folder, built and answered from
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> tuple[Config, object]:
    base = tmp_path_factory.mktemp("mixed")
    config = Config(corpus_dir=write_mixed_folder(base / "corpus"), index_dir=base / "index", embedder=HASH,
                    reader="none")
    return config, build_index(config)


def test_mixed_folder_every_file_indexed_or_listed_with_reason(mixed):
    config, report = mixed
    indexed = set(Index.load(config.index_dir, HASH).sources)
    assert indexed == {"崂山新闻.html", "epaper.pdf", "黄岛.docx", "records.jsonl", "records.csv", "pingdu.txt"}
    listed = dict(line.split(": ", 1) for line in report.skipped)
    assert set(listed) == set(SKIP_REASONS)
    for name, reason in SKIP_REASONS.items():
        assert reason in listed[name]
    assert set(listed) | indexed == {p.name for p in config.corpus_dir.iterdir()}  # nothing dropped silently
    summary = report.summary()
    assert "not indexed: 4 files" in summary and all(f"\n  {name}: " in summary for name in SKIP_REASONS)


def test_markup_never_indexed(mixed):
    config, _ = mixed
    index = Index.load(config.index_dir, HASH)
    for text in [*index.sources.values(), *(c.text for c in index.chunks), *(c.title for c in index.chunks)]:
        assert not re.search(r"<[a-zA-Z!/]|obj\s*<<|/Type\s*/|\x00", text), text[:80]


@pytest.mark.parametrize("question, source, expected", QUESTIONS)
def test_mixed_folder_answers_cite_each_document(mixed, question, source, expected):
    config, _ = mixed
    pipeline = Pipeline(config, Index.load(config.index_dir, HASH), make_embedder(HASH), None)
    answer = pipeline.ask(question)
    check_answer(answer, pipeline, question)
    assert not answer.abstained and answer.chunk.source == source and expected in answer.text
    assert expected in pipeline.original_text(answer.citations[0])  # the citation shows the extracted text


# ----------------------------------------------------------------------------------------------
# News pages as Chinese sites lay them out (written by hand): only the story is kept
# ----------------------------------------------------------------------------------------------

PORTAL_STORY = ["新华社青岛12月20日电 记者从青岛市交通运输局获悉，青岛地铁6号线一期工程20日开通运营，线路全长30.8公里，设车站21座。",
                "6号线一期工程贯穿西海岸新区南北，开通后西海岸新区轨道交通线网里程达到120公里，市民出行更加便捷。",
                "据介绍，6号线采用全自动运行系统，最高运行速度每小时80公里，高峰时段行车间隔为6分钟。"]
PORTAL_PAGE = ("""<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>青岛地铁6号线一期开通运营-新华网</title><meta name="description" content="青岛地铁6号线一期开通">
<meta name="publishdate" content="2022-12-20"><script src="/js/jquery.js"></script>
<script>document.write('<div class="ad">广告</div>');var _hmt=_hmt||[];</script></head><body>
<div id="topbar"><a href="/">新华网首页</a> | <a href="/politics">时政</a> | <a href="/local">地方</a> | <a href="/login">登录</a></div>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/local">地方</a> &gt; 正文</div>
<div class="main"><h1 class="title">青岛地铁6号线一期开通运营</h1>
<div class="info"><span class="time">2022-12-20 10:15:36</span><span class="source">来源：新华网</span>
<span class="share">分享到：微信 微博 QQ空间</span></div>
<div id="detail">""" + "".join(f"<p>　　{p}</p>" for p in PORTAL_STORY) + """
<p class="editor">【责任编辑：王琳】</p></div>
<div class="related"><h3>相关新闻</h3><ul><li><a href="/a">青岛地铁1号线全线贯通</a></li>
<li><a href="/b">青岛发布地铁建设规划</a></li><li><a href="/c">西海岸新区交通发展综述</a></li></ul></div>
<div id="comments"><h3>网友评论</h3><div class="comment">终于通了，太方便了！</div></div></div>
<div class="footer">关于我们 | 联系我们 | 版权所有 新华网 京ICP证010042号</div></body></html>""").encode("gbk")

PAPER_STORY = ["本报讯（记者 李明 通讯员 张华）12月19日，即墨区首个农村污水处理一体化项目在龙泉街道投入使用，日处理能力500吨。",
               "该项目总投资1200万元，覆盖周边8个村庄，惠及群众3000余户，处理后的水质达到一级A排放标准。"]
PAPER_PAGE = ("""<html><head><meta charset="utf-8"><title>即墨区首个农村污水处理一体化项目投用 - 青岛日报数字报</title></head>
<body><table width="100%"><tr><td class="left"><a href="/paper/1">第01版：要闻</a><br><a href="/paper/2">第02版：综合</a>
<br><a href="/paper/3">第03版：区市</a></td><td class="content">
<h2>即墨区首个农村污水处理一体化项目投用</h2><div class="date">2022年12月20日</div>
<div id="ozoom">""" + "".join(f"<p>{p}</p>" for p in PAPER_STORY) + """</div></td></tr></table>
<div class="nav"><a href="/prev">上一篇</a> <a href="/next">下一篇</a> <a href="/">返回目录</a></div></body></html>""").encode("utf-8")


@pytest.mark.parametrize("name, raw, story, title", [
    ("xinhua.html", PORTAL_PAGE, PORTAL_STORY, "青岛地铁6号线一期开通运营"),
    ("epaper.htm", PAPER_PAGE, PAPER_STORY, "即墨区首个农村污水处理一体化项目投用"),
])
def test_hand_written_news_pages_keep_only_the_story(tmp_path, name, raw, story, title):
    document = read(tmp_path, name, raw)
    [article] = document.articles
    assert article.title.startswith(title)
    body = document.text.replace("\u3000", "").replace(" ", "")
    for paragraph in story:
        assert paragraph.replace(" ", "") in body
    for boilerplate in ("首页", "登录", "当前位置", "分享到", "相关新闻", "网友评论", "终于通了", "版权所有", "ICP",
                        "上一篇", "第02版", "_hmt", "广告", "<", "&gt;"):
        assert boilerplate not in document.text, boilerplate
    assert article.metadata.get("date") == "2022-12-20"
