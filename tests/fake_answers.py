"""Hand-made passages and answers, and a fake pipeline, for the answer, sentence, render and app tests."""
from __future__ import annotations

import html
import re

from rag.types import Answer, Chunk, Span

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


def make_chunk(source="004_c4e7dda2531a4b06.txt", start=0, end=None, text=None, title="平度市农业农村",
           score=0.5, metadata=None):
    end = len(FILE_TEXT) if end is None else end
    return Chunk(text=text if text is not None else FILE_TEXT[start:end].replace("\n", ""), source=source,
                 title=title, start=start, end=end,
                 metadata=metadata if metadata is not None else
                 {"newspaper": "青岛晚报", "dateline": "本报12月18日讯", "reporter": "马丙政"},
                 score=score)


def make_answer(**changes):
    chunk = make_chunk()
    sentence_start = FILE_TEXT.index("平度市还")
    sentence_end = FILE_TEXT.index("工作站。") + len("工作站。")
    short_start = FILE_TEXT.index("155.2万亩")
    fields = dict(
        question="平度市累计建成了多少万亩高标准农田？",
        text="平度市还积极推进高标准农田建设，累计建成高标准农田155.2万亩，并建成全省首家粮食院士专家工作站。",
        chunk=chunk, span=Span(sentence_start, sentence_end),
        short_answer="155.2万亩", short_span=Span(short_start, short_start + len("155.2万亩")),
        score=0.9,
        citations=(chunk, make_chunk(source="001_other.txt", title="胶州市", score=0.2, metadata={})),
    )
    fields.update(changes)
    return Answer(**fields)


def original_text(chunk: Chunk) -> str:
    return FILE_TEXT[chunk.start:chunk.end] if chunk.source.startswith("004") else chunk.text


class FakePipeline:
    """Same interface as rag.pipeline.Pipeline; returns hand-made Answers."""

    info = {"embedder": "fake:embedder", "index_dir": "/tmp/fake-index", "articles": 3, "chunks": 7}

    def __init__(self, answer: Answer | None = None, error: Exception | None = None):
        self.answer = answer or make_answer()
        self.error = error
        self.calls = []

    def ask(self, question, top_k=None, history=()):
        self.calls.append((question, top_k, tuple(history)))
        if self.error:
            raise self.error
        return Answer(**{**self.answer.__dict__, "question": question, "latency_ms": 12.5})

    def original_text(self, chunk):
        return original_text(chunk)


def visible_text(fragment: str) -> str:
    """Roughly what a browser shows: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment.replace("<br>", "\n")))


def assert_inert(fragment: str) -> None:
    """No tag from the payloads, no Markdown image/link syntax, no javascript: URL in markup."""
    tags = re.findall(r"<\s*([a-zA-Z][\w-]*)", fragment)
    assert not {t.lower() for t in tags} & {"script", "img", "a", "iframe", "svg", "style", "link"}
    assert "onerror" not in re.sub(r"&[^;]+;", "", fragment).lower() or "onerror=" not in fragment
    for token in ("](", "![", "javascript:", "<script", "<img"):
        assert token not in fragment, token


# ------------------------------------------------------------------------------------------------
# format_answer_html
# ------------------------------------------------------------------------------------------------


def make_passage(text: str, source: str = "a.txt", title: str = "", start: int = 0) -> Chunk:
    """A chunk whose text is its file text from `start` (no cleaning)."""
    return Chunk(text=text, source=source, title=title, start=start, end=start + len(text))


FISH = make_passage("黄鳍紫鱼，又称黄鳍姬鲷，为鲈形目的一种。分布于印度洋及太平洋。体长可达50公分。以小鱼为食。",
               title="黄鳍紫鱼", start=100)
