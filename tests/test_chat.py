"""Fast tests of rag/chat.py (no Gradio, no server): the chat turn over a fake pipeline."""
from __future__ import annotations

from rag.chat import make_chat_fns
from rag.errors import RagError
from tests.fake_answers import XSS, FakePipeline, assert_inert, visible_text


def test_chat_turn_passes_history_and_escapes_user_message():
    pipe = FakePipeline()
    add_question, add_answer = make_chat_fns(pipe)
    box, messages, pending = add_question("  平度市累计建成了多少万亩高标准农田？ ", [])
    assert box == "" and pending == "平度市累计建成了多少万亩高标准农田？"
    messages, asked = add_answer(pending, 3, messages, [])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "155.2万亩" in messages[1]["content"]
    assert pipe.calls[-1] == ("平度市累计建成了多少万亩高标准农田？", 3, ())

    box, messages, pending = add_question(XSS[1], messages)
    assert_inert(messages[-1]["content"])
    messages, asked = add_answer(pending, 99.0, messages, asked)  # top_k clamped to the slider range
    assert pipe.calls[-1] == (XSS[1], 10, ("平度市累计建成了多少万亩高标准农田？",))
    assert asked == ["平度市累计建成了多少万亩高标准农田？", XSS[1]]
    assert_inert(messages[-1]["content"])

    # empty input does nothing
    box, same, pending = add_question("   ", messages)
    assert pending is None and same == messages
    assert add_answer(None, 5, same, asked) == (same, asked)


def test_chat_turn_shows_rag_errors_and_load_errors():
    _, add_answer = make_chat_fns(FakePipeline(error=RagError("index <b>busy</b>")))
    messages, asked = add_answer("q", 5, [], [])
    assert "<b>" not in messages[-1]["content"] and "rag-error" in messages[-1]["content"]
    assert "index <b>busy</b>" in visible_text(messages[-1]["content"])
    _, add_answer = make_chat_fns(None, load_error="No index at ./index: run `python -m rag build`")
    messages, _ = add_answer("q", 5, [], [])
    assert "No index at" in messages[-1]["content"] and "rag-error" in messages[-1]["content"]
