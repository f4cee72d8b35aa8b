"""The chat's upload (rag/uploads.py, rag/store/memory.py, Pipeline.ask(extra=...)): files a session adds are
searched with the shared index in that session only, never written into it; limits and bad files change nothing."""
from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.documents import make_docx, make_html, make_pdf
from rag.embedding import make_embedder
from rag.pipeline import Pipeline
from rag.chat import make_chat_fns, make_upload_fn
from rag.render import format_upload_html
from rag.store.folder import Index
from rag.uploads import Uploads, add_files
from tests.helpers import HASH, tree_digest

STORY = ["本报12月14日讯 崂山区今年以来持续推进垃圾分类工作，全年清理生活垃圾66400吨，居民参与率明显提升。",
         "下一步，崂山区将继续完善分类设施，推动垃圾分类工作常态化、长效化，让城市环境更加整洁。"]
QUESTION = "崂山区全年清理生活垃圾多少吨？"


@pytest.fixture
def pipeline(index_copy) -> Pipeline:
    config = index_copy.with_(reader="none")
    return Pipeline(config, Index.load(config.index_dir, HASH), make_embedder(HASH), None)


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "upload" / "崂山新闻.html"
    path.parent.mkdir()
    path.write_bytes(make_html("崂山区垃圾分类成效显著", STORY, date="2022-12-15", site="青岛新闻网"))
    return path


def test_upload_is_answered_from_and_marked_as_the_users_own(pipeline, page):
    uploads, [result] = add_files(pipeline, None, [page])
    assert result.added and result.name == "崂山新闻.html" and "1 article(s)" in result.message
    answer = pipeline.ask(QUESTION, extra=uploads.index)
    assert not answer.abstained and "66400吨" in answer.text and answer.chunk.source == "崂山新闻.html"
    assert answer.chunk.metadata["uploaded"] and answer.citations[0].metadata["uploaded"]
    original = uploads.index.original_text(answer.citations[0])
    assert "66400吨" in original and original == uploads.sources["崂山新闻.html"][answer.chunk.start:answer.chunk.end]
    # the shared index still answers its own questions in the same session
    shared = pipeline.ask("平度市累计建成了多少万亩高标准农田？", extra=uploads.index)
    assert not shared.abstained and "155.2万亩" in shared.text and not shared.chunk.metadata.get("uploaded")
    for chunk in answer.citations + shared.citations:  # each citation's offsets index into its own file's text
        sources = uploads.sources if chunk.metadata.get("uploaded") else pipeline.index.sources
        assert 0 <= chunk.start < chunk.end <= len(sources[chunk.source])


def test_upload_stays_in_its_session_and_out_of_the_shared_index(pipeline, page):
    before = tree_digest(pipeline.config.index_dir)
    chunks_before = len(pipeline.index.chunks)
    uploads, _ = add_files(pipeline, None, [page])
    assert uploads.index is not None
    assert tree_digest(pipeline.config.index_dir) == before and len(pipeline.index.chunks) == chunks_before
    other_session = pipeline.ask(QUESTION)  # a second session has no uploads: it never sees the file
    assert all(c.source != "崂山新闻.html" for c in other_session.citations)
    assert "66400" not in other_session.text


def test_size_limit_refused_with_reason_and_nothing_changes(pipeline, page, tmp_path):
    uploads, _ = add_files(pipeline, None, [page])
    big = tmp_path / "big.txt"
    big.write_bytes("崂山。".encode() * 400_000)  # 3.6 MB
    small = replace(pipeline, config=pipeline.config.with_(upload_max_mb=2))
    after, [result] = add_files(small, uploads, [big])
    assert after is uploads and not result.added
    assert result.message == "3.6 MB is over the limit of 2 MB a file"


def test_file_count_limit(pipeline, tmp_path):
    limited = replace(pipeline, config=pipeline.config.with_(upload_max_files=2))
    paths = []
    for number in range(3):
        path = tmp_path / f"a{number}.txt"
        path.write_text(f"标题{number}\n\n第{number}篇文章的正文。\n", encoding="utf-8")
        paths.append(path)
    uploads, results = add_files(limited, None, paths)
    assert [r.added for r in results] == [True, True, False]
    assert "the limit of 2" in results[2].message and uploads.names == ("a0.txt", "a1.txt")


@pytest.mark.parametrize("name, raw, reason", [
    ("broken.pdf", b"%PDF-1.7\n1 0 obj<</Type/Catalog", "damaged PDF"),
    ("scan.pdf", make_pdf([["扫描"]], text=False), "no text layer"),
    ("photo.html", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG image"),
    ("empty.txt", b"", "empty file"),
    ("sheet.xlsx", b"PK\x03\x04", "unsupported type .xlsx"),
])
def test_bad_file_gets_its_reason_and_changes_nothing(pipeline, page, tmp_path, name, raw, reason):
    uploads, _ = add_files(pipeline, None, [page])
    bad = tmp_path / name
    bad.write_bytes(raw)
    after, [result] = add_files(pipeline, uploads, [bad])
    assert after is uploads and not result.added and reason in result.message


def test_docx_and_pdf_uploads_together(pipeline, tmp_path):
    docx = tmp_path / "黄岛.docx"
    docx.write_bytes(make_docx("黄岛区新增绿地三百亩", ["今年以来，黄岛区新增城市绿地三百亩，建成口袋公园二十一座。"]))
    pdf = tmp_path / "e.pdf"
    pdf.write_bytes(make_pdf([["胶州市召开乡村振兴工作会议", "本报12月18日讯 会议指出，今年胶州市新建高标准农田十二万亩。"]]))
    uploads, results = add_files(pipeline, Uploads(), [docx, pdf])
    assert all(r.added for r in results) and set(uploads.names) == {"黄岛.docx", "e.pdf"}
    answer = pipeline.ask("黄岛区建成口袋公园多少座？", extra=uploads.index)
    assert answer.chunk.source == "黄岛.docx" and "二十一座" in answer.text
    answer = pipeline.ask("胶州市今年新建高标准农田多少万亩？", extra=uploads.index)
    assert answer.chunk.source == "e.pdf" and answer.chunk.metadata["page"] == "1"


def test_persist_setting_adds_to_the_shared_index(pipeline, page):
    persisting = replace(pipeline, config=pipeline.config.with_(persist_uploads=True))
    uploads, [result] = add_files(persisting, None, [page])
    assert uploads.index is None and result.added and "shared index" in result.message
    fresh = Pipeline(pipeline.config, Index.load(pipeline.config.index_dir, HASH), pipeline.embedder, None)
    assert fresh.ask(QUESTION).chunk.source == "崂山新闻.html"  # every session sees it now


def test_chat_upload_and_answer_without_gradio(pipeline, page):
    add_uploads = make_upload_fn(pipeline)
    _, add_answer = make_chat_fns(pipeline)
    uploads, messages = add_uploads([str(page)], None, [])
    assert "崂山新闻.html" in messages[0]["content"] and "✓" in messages[1]["content"]
    assert "Only this browser session" in messages[1]["content"]
    messages, _ = add_answer(QUESTION, 5, messages, [], uploads)
    reply = messages[-1]["content"]
    assert "your file" in reply and "66400" in reply
    messages, _ = add_answer(QUESTION, 5, [], [], None)  # another session
    assert "your file" not in messages[-1]["content"]


def test_upload_message_escapes_file_names():
    from rag.uploads import FileResult

    html = format_upload_html([FileResult("<img src=x onerror=alert(1)>.pdf", False, "damaged PDF (<b>)")])
    assert "<img" not in html and "<b>" not in html and "✗" in html


def test_upload_settings_from_the_environment():
    from rag.config import Config, ConfigError

    config = Config.from_env({"RAG_UPLOAD_MAX_FILES": "3", "RAG_UPLOAD_MAX_MB": "2", "RAG_PERSIST_UPLOADS": "1"})
    assert (config.upload_max_files, config.upload_max_mb, config.persist_uploads) == (3, 2, True)
    default = Config.from_env({})
    assert (default.upload_max_files, default.upload_max_mb, default.persist_uploads) == (5, 10, False)
    with pytest.raises(ConfigError, match="RAG_PERSIST_UPLOADS"):
        Config.from_env({"RAG_PERSIST_UPLOADS": "maybe"})
    with pytest.raises(ConfigError, match=r"upload_max_mb must be an integer in \[1, 200\]"):
        Config.from_env({"RAG_UPLOAD_MAX_MB": "0"})


def test_app_upload_button_follows_the_setting(pipeline):
    import sys

    from tests.conftest import ROOT

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    def upload_buttons(config):
        demo = app.build_app(replace(pipeline, config=config))
        return [c for c in demo.get_config_file()["components"] if c["type"] == "uploadbutton"]

    [button] = upload_buttons(pipeline.config)
    assert "≤ 5 × 10 MB" in button["props"]["label"] and button["props"]["file_count"] == "multiple"
    assert upload_buttons(pipeline.config.with_(upload_max_files=0)) == []  # 0: no upload on this server
