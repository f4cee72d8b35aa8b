"""Fast tests of app.py and rag/render.py (no server, no browser): HTML formatting and escaping, the chat turn,
the /ask API function and building the Blocks around a fake pipeline."""
from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402

import app  # noqa: E402
from rag import render  # noqa: E402
from rag.config import Config, ConfigError  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.types import Answer, Chunk, Span  # noqa: E402

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "![x](http://evil/x.png)",
    "[click](javascript:alert(1))",
]

FILE_TEXT = (
    "# 标题\n\n本报12月18日讯 平度市还积极推进高标准农田建设，累计建成高标准农田155.2万亩，"
    "并建成全省首家粮食院\n\n士专家工作站。\n\n另一段落。"
)


def _chunk(source="004_c4e7dda2531a4b06.txt", start=0, end=None, text=None, title="平度市农业农村",
           score=0.5, metadata=None):
    end = len(FILE_TEXT) if end is None else end
    return Chunk(text=text if text is not None else FILE_TEXT[start:end].replace("\n", ""), source=source,
                 title=title, start=start, end=end,
                 metadata=metadata if metadata is not None else
                 {"newspaper": "青岛晚报", "dateline": "本报12月18日讯", "reporter": "马丙政"},
                 score=score)


def _answer(**changes):
    chunk = _chunk()
    sentence_start = FILE_TEXT.index("平度市还")
    sentence_end = FILE_TEXT.index("工作站。") + len("工作站。")
    short_start = FILE_TEXT.index("155.2万亩")
    fields = dict(
        question="平度市累计建成了多少万亩高标准农田？",
        text="平度市还积极推进高标准农田建设，累计建成高标准农田155.2万亩，并建成全省首家粮食院士专家工作站。",
        chunk=chunk, span=Span(sentence_start, sentence_end),
        short_answer="155.2万亩", short_span=Span(short_start, short_start + len("155.2万亩")),
        score=0.9,
        citations=(chunk, _chunk(source="001_other.txt", title="胶州市", score=0.2, metadata={})),
    )
    fields.update(changes)
    return Answer(**fields)


def original_text(chunk: Chunk) -> str:
    return FILE_TEXT[chunk.start:chunk.end] if chunk.source.startswith("004") else chunk.text


class FakePipeline:
    """Same interface as rag.pipeline.Pipeline; returns hand-made Answers."""

    info = {"embedder": "fake:embedder", "index_dir": "/tmp/fake-index", "articles": 3, "chunks": 7}

    def __init__(self, answer: Answer | None = None, error: Exception | None = None):
        self.answer = answer or _answer()
        self.error = error
        self.calls = []

    def ask(self, question, top_k=None, history=()):
        self.calls.append((question, top_k, tuple(history)))
        if self.error:
            raise self.error
        return Answer(**{**self.answer.__dict__, "question": question, "latency_ms": 12.5})

    def original_text(self, chunk):
        return original_text(chunk)


def _visible_text(fragment: str) -> str:
    """Roughly what a browser shows: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment.replace("<br>", "\n")))


def _assert_inert(fragment: str) -> None:
    """No tag from the payloads, no Markdown image/link syntax, no javascript: URL in markup."""
    tags = re.findall(r"<\s*([a-zA-Z][\w-]*)", fragment)
    assert not {t.lower() for t in tags} & {"script", "img", "a", "iframe", "svg", "style", "link"}
    assert "onerror" not in re.sub(r"&[^;]+;", "", fragment).lower() or "onerror=" not in fragment
    for token in ("](", "![", "javascript:", "<script", "<img"):
        assert token not in fragment, token


# ------------------------------------------------------------------------------------------------
# format_answer_html
# ------------------------------------------------------------------------------------------------

def test_answer_html_shows_short_answer_sentence_and_numbered_citations():
    out = render.format_answer_html(_answer(), original_text)
    assert '<div class="rag-short">155.2万亩</div>' in out
    assert "累计建成高标准农田" in out
    assert '<span class="rag-ref">[1]</span>' in out
    assert out.count('<details class="rag-cite"') == 2
    assert "[1]</span>" in out and "[2]</span>" in out
    # source file name and character offsets of each citation
    shown = _visible_text(out)
    assert "004_c4e7dda2531a4b06.txt" in shown and f"chars 0–{len(FILE_TEXT)}" in shown
    assert "001&#95;other.txt" in out and "001_other.txt" in shown  # escaped, still shown
    # newspaper / date / reporter where known
    assert "青岛晚报" in shown and "本报12月18日讯" in shown and "马丙政" in shown
    assert "\n" not in out  # one line: gradio's cleandoc cannot touch it


def test_citation_shows_original_text_with_answer_highlighted():
    answer = _answer()
    out = render.format_answer_html(answer, original_text)
    first = out.split('<details class="rag-cite"')[1]
    # original text (with its paragraph break inside the sentence) is what is shown
    assert "粮食院<br><br>士专家" in first
    marks = re.findall(r'<mark class="([^"]+)">(.*?)</mark>', first)
    marked = "".join(_visible_text(m[1]) for m in marks)
    assert marked == FILE_TEXT[answer.span.start:answer.span.end]
    assert ("rag-hl rag-hl-short", "155.2万亩") in marks
    # the second citation (other file) has no highlight and no answer badge
    second = out.split('<details class="rag-cite"')[2]
    assert "<mark" not in second and "rag-badge" not in second


def test_highlight_offsets_are_relative_to_the_chunk():
    start = FILE_TEXT.index("本报")
    chunk = _chunk(start=start, end=len(FILE_TEXT))
    answer = _answer(chunk=chunk, citations=(chunk,))
    out = render.format_answer_html(answer, original_text)
    marks = re.findall(r'<mark class="[^"]+">(.*?)</mark>', out.split("<details")[1])
    assert "".join(_visible_text(m) for m in marks) == FILE_TEXT[answer.span.start:answer.span.end]


@pytest.mark.parametrize("payload", XSS)
def test_question_and_corpus_text_are_escaped(payload):
    evil_chunk = _chunk(source=f"{payload}.txt", title=payload, text=payload,
                        metadata={"newspaper": payload, "reporter": payload, "dateline": payload})
    answer = _answer(
        question=payload, text=f"答案 {payload}", short_answer=payload, notes=(payload,),
        citations=(_answer().chunk, evil_chunk),
    )
    out = render.format_answer_html(answer, lambda c: payload if c is evil_chunk else original_text(c))
    _assert_inert(out)
    assert payload in _visible_text(out)  # shown as text
    q = render.format_question_html(payload)
    _assert_inert(q)
    assert _visible_text(q) == payload


def test_esc_neutralises_markdown_and_math():
    s = render.esc("**b** _i_ `c` $$x$$ ~~s~~ | # h [a](b) <b> & \\ http://x")
    for ch in "*_`$~|#[]()<>\\:":
        assert ch not in s.replace("&#", "").replace(";", ""), ch
    assert html.unescape(s) == "**b** _i_ `c` $$x$$ ~~s~~ | # h [a](b) <b> & \\ http://x"
    assert render.esc("a\nb\r\nc") == "a<br>b<br>c"


def test_abstention_says_so_and_lists_nearest_passages():
    near = _chunk(source="002_x.txt", title="辛安街道")
    answer = Answer(question="火星上有多少人？", text="抱歉，现有文章中没有找到这个问题的答案。以下是最接近的段落。",
                    chunk=None, abstained=True, citations=(near,))
    out = render.format_answer_html(answer, original_text)
    assert "rag-abstain" in out and "do not contain the answer" in out
    assert "没有找到" in out and "最相近的段落" in out
    assert "rag-short" not in out and "<mark" not in out
    assert out.count('<details class="rag-cite"') == 1


def test_abstention_without_passages_and_notes():
    answer = Answer(question="", text="请输入一个问题。(Please type a question.)", chunk=None,
                    abstained=True, notes=("question truncated to 500 characters",))
    out = render.format_answer_html(answer, original_text)
    assert "请输入一个问题" in out and "question truncated to 500 characters" in out
    assert "<details" not in out
    empty = render.format_answer_html(Answer(question="?", text="", chunk=None, abstained=True), original_text)
    assert "do not contain the answer" in empty


def test_missing_original_text_falls_back_to_cleaned_passage():
    def broken(chunk):
        raise OSError("file gone")

    out = render.format_answer_html(_answer(), broken)
    assert "original text unavailable" in out and "file gone" in out
    assert "155.2万亩" in out
    out = render.format_answer_html(_answer(), lambda c: "")
    assert "original text unavailable" in out


# ------------------------------------------------------------------------------------------------
# chat turn, API function, app
# ------------------------------------------------------------------------------------------------

def test_chat_turn_passes_history_and_escapes_user_message():
    pipe = FakePipeline()
    add_question, add_answer = render.make_chat_fns(pipe)
    box, messages, pending = add_question("  平度市累计建成了多少万亩高标准农田？ ", [])
    assert box == "" and pending == "平度市累计建成了多少万亩高标准农田？"
    messages, asked = add_answer(pending, 3, messages, [])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "155.2万亩" in messages[1]["content"]
    assert pipe.calls[-1] == ("平度市累计建成了多少万亩高标准农田？", 3, ())

    box, messages, pending = add_question(XSS[1], messages)
    _assert_inert(messages[-1]["content"])
    messages, asked = add_answer(pending, 99.0, messages, asked)  # top_k clamped to the slider range
    assert pipe.calls[-1] == (XSS[1], 10, ("平度市累计建成了多少万亩高标准农田？",))
    assert asked == ["平度市累计建成了多少万亩高标准农田？", XSS[1]]
    _assert_inert(messages[-1]["content"])

    # empty input does nothing
    box, same, pending = add_question("   ", messages)
    assert pending is None and same == messages
    assert add_answer(None, 5, same, asked) == (same, asked)


def test_chat_turn_shows_rag_errors_and_load_errors():
    _, add_answer = render.make_chat_fns(FakePipeline(error=RagError("index <b>busy</b>")))
    messages, asked = add_answer("q", 5, [], [])
    assert "<b>" not in messages[-1]["content"] and "rag-error" in messages[-1]["content"]
    assert "index <b>busy</b>" in _visible_text(messages[-1]["content"])
    _, add_answer = render.make_chat_fns(None, load_error="No index at ./index: run `python -m rag build`")
    messages, _ = add_answer("q", 5, [], [])
    assert "No index at" in messages[-1]["content"] and "rag-error" in messages[-1]["content"]


def test_api_function_returns_the_json_contract():
    pipe = FakePipeline()
    ask = app.make_api_fn(pipe)
    result = ask("平度市累计建成了多少万亩高标准农田？", 2)
    json.dumps(result)  # JSON-serialisable
    assert {"question", "answer", "short_answer", "abstained", "citations", "latency_ms", "notes"} <= set(result)
    assert result["short_answer"] == "155.2万亩" and result["abstained"] is False
    assert result["citations"][0]["source"] == "004_c4e7dda2531a4b06.txt"
    assert {"source", "title", "text", "start", "end", "score"} <= set(result["citations"][0])
    assert isinstance(result["latency_ms"], float)
    assert pipe.calls[-1] == ("平度市累计建成了多少万亩高标准农田？", 2, ())
    with pytest.raises(gr.Error):
        app.make_api_fn(None, "no index")("q", 5)


def test_build_app_with_fake_builds_without_a_server():
    demo = app.build_app(FakePipeline())
    assert isinstance(demo, gr.Blocks)
    config = demo.get_config_file()
    public = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility") == "public"}
    assert public == {"ask"}
    chatbots = [c for c in config["components"] if c["type"] == "chatbot"]
    assert len(chatbots) == 1
    props = chatbots[0]["props"]
    assert props["sanitize_html"] is True and props["render_markdown"] is False
    assert props["latex_delimiters"] == []
    assert [e["text"] for e in props["examples"]] == app.EXAMPLES  # a click asks through example_select
    chatbot_id = chatbots[0]["id"]
    assert any(tuple(t) == (chatbot_id, "example_select") for d in config["dependencies"] for t in d["targets"])
    text = json.dumps(config, ensure_ascii=False, default=str)
    assert "fake:embedder" in html.unescape(text) and "平度市累计建成了多少万亩高标准农田？" in text
    slider = next(c for c in config["components"] if c["type"] == "slider")
    assert (slider["props"]["minimum"], slider["props"]["maximum"], slider["props"]["value"]) == (1, 10, 5)


def test_build_app_after_load_error_shows_the_message():
    demo = app.build_app(None, load_error="No index at ./index <x>")
    text = json.dumps(demo.get_config_file(), ensure_ascii=False, default=str)
    assert "No index at ./index &#60;x&#62;" in text


def test_config_from_env(tmp_path):
    """The app and the CLI read the environment through one Config.from_env (app: defaults next to app.py)."""
    env = {"RAG_INDEX": str(tmp_path / "i"), "RAG_CORPUS": str(tmp_path / "c"), "RAG_EMBEDDER": "hash:16",
           "RAG_READER": "none"}
    config = Config.from_env(env, root=app.HERE)
    assert config.index_dir == tmp_path / "i" and config.corpus_dir == tmp_path / "c"
    assert config.embedder == "hash:16" and config.reader == "none"
    default = Config.from_env({}, root=app.HERE)
    # No corpus named: the index's own (recorded) corpus is used; a new index is built from seeds/.
    assert default.index_dir == ROOT / "index" and default.corpus_dir is None
    assert default.default_corpus == ROOT / "seeds"
    cli = Config.from_env({}, index_dir="ix", top_k=3, corpus_dir=None)  # flags override, None = not given
    assert cli.index_dir == Path("ix") and cli.top_k == 3 and cli.corpus_dir is None
    assert Config.from_env({"RAG_INDEX": "a"}, index_dir="b").index_dir == Path("b")
    with pytest.raises(ConfigError, match="unknown setting"):
        Config.from_env({}, colour="red")
    with pytest.raises(ConfigError, match="embedder must be"):
        Config.from_env({"RAG_EMBEDDER": "bogus"})


def test_load_pipeline_reports_errors_instead_of_raising(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "none"))
    monkeypatch.setenv("RAG_CORPUS", str(tmp_path / "no-corpus"))
    monkeypatch.setenv("RAG_EMBEDDER", "hash:16")
    pipeline, error = app.load_pipeline()
    assert pipeline is None and error
    monkeypatch.setenv("RAG_EMBEDDER", "nonsense-embedder")
    pipeline, error = app.load_pipeline()
    assert pipeline is None and error


def test_import_does_no_work():
    src = (ROOT / "app.py").read_text(encoding="utf-8")
    assert "build_app(" in src and "\nif __name__ == \"__main__\":\n    main()" in src
    assert not any(isinstance(v, gr.Blocks) for v in vars(app).values())
