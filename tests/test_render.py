"""Fast tests of rag/render.py (no Gradio, no server): HTML formatting and escaping."""
from __future__ import annotations

import html
import re

import pytest

from rag import render
from rag.types import Answer
from tests.fake_answers import (
    FILE_TEXT, XSS, make_answer, assert_inert, make_chunk, visible_text, original_text,
)


def test_answer_html_shows_short_answer_sentence_and_numbered_citations():
    out = render.format_answer_html(make_answer(), original_text)
    assert '<div class="rag-short">155.2万亩</div>' in out
    assert "累计建成高标准农田" in out
    assert '<span class="rag-ref">[1]</span>' in out
    assert out.count('<details class="rag-cite"') == 2
    assert "[1]</span>" in out and "[2]</span>" in out
    # source file name and character offsets of each citation
    shown = visible_text(out)
    assert "004_c4e7dda2531a4b06.txt" in shown and f"chars 0–{len(FILE_TEXT)}" in shown
    assert "001&#95;other.txt" in out and "001_other.txt" in shown  # escaped, still shown
    # newspaper / date / reporter where known
    assert "青岛晚报" in shown and "本报12月18日讯" in shown and "马丙政" in shown
    assert "\n" not in out  # one line: gradio's cleandoc cannot touch it


def test_citation_shows_original_text_with_answer_highlighted():
    answer = make_answer()
    out = render.format_answer_html(answer, original_text)
    first = out.split('<details class="rag-cite"')[1]
    # original text (with its paragraph break inside the sentence) is what is shown
    assert "粮食院<br><br>士专家" in first
    marks = re.findall(r'<mark class="([^"]+)">(.*?)</mark>', first)
    marked = "".join(visible_text(m[1]) for m in marks)
    assert marked == FILE_TEXT[answer.span.start:answer.span.end]
    assert ("rag-hl rag-hl-short", "155.2万亩") in marks
    # the second citation (other file) has no highlight and no answer badge
    second = out.split('<details class="rag-cite"')[2]
    assert "<mark" not in second and "rag-badge" not in second


def test_only_the_answers_own_passage_carries_the_answer_tag():
    """Issue 21, item 6: an overlapping passage of the same file holds the answer sentence too (it is
    highlighted there), but the "answer" tag is on the passage the answer was taken from only."""
    overlapping = make_chunk(start=FILE_TEXT.index("本报"), score=0.4)
    answer = make_answer(citations=(make_answer().chunk, overlapping))
    out = render.format_answer_html(answer, original_text)
    first, second = out.split('<details class="rag-cite"')[1:]
    assert first.count("rag-badge") == 1 and "rag-badge" not in second
    assert '<mark class="rag-hl">' in second


def test_highlight_offsets_are_relative_to_the_chunk():
    start = FILE_TEXT.index("本报")
    chunk = make_chunk(start=start, end=len(FILE_TEXT))
    answer = make_answer(chunk=chunk, citations=(chunk,))
    out = render.format_answer_html(answer, original_text)
    marks = re.findall(r'<mark class="[^"]+">(.*?)</mark>', out.split("<details")[1])
    assert "".join(visible_text(m) for m in marks) == FILE_TEXT[answer.span.start:answer.span.end]


@pytest.mark.parametrize("payload", XSS)
def test_question_and_corpus_text_are_escaped(payload):
    evil_chunk = make_chunk(source=f"{payload}.txt", title=payload, text=payload,
                        metadata={"newspaper": payload, "reporter": payload, "dateline": payload})
    answer = make_answer(
        question=payload, text=f"答案 {payload}", short_answer=payload, notes=(payload,),
        citations=(make_answer().chunk, evil_chunk),
    )
    out = render.format_answer_html(answer, lambda c: payload if c is evil_chunk else original_text(c))
    assert_inert(out)
    assert payload in visible_text(out)  # shown as text
    q = render.format_question_html(payload)
    assert_inert(q)
    assert visible_text(q) == payload


def test_esc_neutralises_markdown_and_math():
    s = render.esc("**b** _i_ `c` $$x$$ ~~s~~ | # h [a](b) <b> & \\ http://x")
    for ch in "*_`$~|#[]()<>\\:":
        assert ch not in s.replace("&#", "").replace(";", ""), ch
    assert html.unescape(s) == "**b** _i_ `c` $$x$$ ~~s~~ | # h [a](b) <b> & \\ http://x"
    assert render.esc("a\nb\r\nc") == "a<br>b<br>c"


def test_abstention_says_so_and_lists_nearest_passages():
    near = make_chunk(source="002_x.txt", title="辛安街道")
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

    out = render.format_answer_html(make_answer(), broken)
    assert "original text unavailable" in out and "file gone" in out
    assert "155.2万亩" in out
    out = render.format_answer_html(make_answer(), lambda c: "")
    assert "original text unavailable" in out


def test_a_long_question_is_shown_folded():
    """Issue 21, item 7: a long pasted question no longer fills the chat panel."""
    short = render.format_question_html("平度市累计建成了多少万亩高标准农田？")
    assert short.startswith('<div class="rag-question">')
    long = render.format_question_html("平度<b>" + "农田" * 600)
    assert long.startswith('<details class="rag-question rag-question-folded"><summary>') and "(1205 字)" in long
    assert "&#60;b&#62;" in long and "<b>" not in long
    assert visible_text(long.split('<div class="rag-question-full">')[1]).startswith("平度<b>农田")


def test_the_answer_has_a_copy_button_and_the_date_its_year():
    """Issue 21, item 8: the copy button copies the short answer, the sentence and its source (escaped, in a hidden
    element beside it: the chat strips data-* attributes);
    a citation shows the date with its year where the article has one."""
    chunk = make_chunk(metadata={"date": "2024年12月18日", "dateline": "本报12月18日讯"})
    out = render.format_answer_html(make_answer(chunk=chunk, citations=(chunk,)), original_text)
    copied = html.unescape(re.search(r'<span class="rag-copy-text">([^<]*)</span><button type="button" class="rag-copy"',
                                     out).group(1))
    assert copied == ("155.2万亩\n平度市还积极推进高标准农田建设，累计建成高标准农田155.2万亩，并建成全省首家粮食院士专家工作站。\n"
                      "—— 平度市农业农村 (004_c4e7dda2531a4b06.txt)")
    assert "日期 Date: 2024年12月18日" in visible_text(out)
    abstained = render.format_answer_html(make_answer(abstained=True, text="没有答案", chunk=None, span=None,
                                                      short_answer="", short_span=None), original_text)
    assert "rag-copy" not in abstained
