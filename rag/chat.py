"""The chat app's steps over the library, kept free of Gradio objects so tests call them without a server:
the two steps of a chat turn, the upload step and the `/ask` endpoint's answer. What they show is built by
rag.render."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rag.config import check_top_k
from rag.errors import RagError
from rag.render import format_answer_html, format_error_html, format_question_html, format_upload_html
from rag.types import AnswerDict, Chunk, is_uploaded

TOP_K_MIN, TOP_K_MAX, TOP_K_DEFAULT = 1, 10, 5  # the app's slider


def clamp_top_k(top_k: Any) -> int:
    """The slider's value as a whole number in its range (an API caller may send anything)."""
    try:
        k = int(round(float(top_k)))
    except (TypeError, ValueError):
        k = TOP_K_DEFAULT
    return max(TOP_K_MIN, min(TOP_K_MAX, k))


def original_text_of(pipeline: Any) -> Callable[[Chunk], str]:
    """The pipeline's reader of original passage text; a pipeline without one shows the cleaned text."""
    fn = getattr(pipeline, "original_text", None)
    return fn if callable(fn) else (lambda chunk: chunk.text)


def with_uploads(original_text: Callable[[Chunk], str], extra: Any) -> Callable[[Chunk], str]:
    """The original text of a passage from the shared index or, for the user's own files, the session's index."""
    if extra is None:
        return original_text
    return lambda chunk: extra.original_text(chunk) if is_uploaded(chunk) else original_text(chunk)


def make_chat_fns(pipeline: Any, load_error: str | None = None):
    """The two steps of one chat turn (kept free of gradio objects so tests can call them)."""
    original_text = original_text_of(pipeline)

    def add_question(question: str, messages: list | None):
        """Step 1: show the (escaped) question at once and clear the box."""
        messages = list(messages or [])
        question = (question or "").strip()
        if not question:
            return "", messages, None
        messages.append({"role": "user", "content": format_question_html(question)})
        return "", messages, question

    def add_answer(question: str | None, top_k: Any, messages: list | None, asked: list | None, uploads: Any = None):
        """Step 2: answer, passing the earlier questions of this conversation as history, and searching the
        session's own uploads (rag.uploads.Uploads) with the shared index."""
        messages = list(messages or [])
        asked = list(asked or [])
        if not question:
            return messages, asked
        if pipeline is None:
            reply = format_error_html(load_error or "The index is not loaded.")
        else:
            try:
                extra = getattr(uploads, "index", None)
                answer = pipeline.ask(question, top_k=clamp_top_k(top_k), history=tuple(asked),
                                      **({"extra": extra} if extra is not None else {}))
                reply = format_answer_html(answer, with_uploads(original_text, extra))
            except RagError as error:
                reply = format_error_html(str(error))
            asked.append(question)
        messages.append({"role": "assistant", "content": reply})
        return messages, asked

    return add_question, add_answer


def make_upload_fn(pipeline: Any, load_error: str | None = None):
    """The chat's upload step: read and index the files into the session's own Uploads (rag.uploads), and
    say in the chat what was added and why a file was not. Kept free of gradio objects so tests call it."""

    def add_uploads(files: Any, uploads: Any, messages: list | None, progress: Callable | None = None):
        messages = list(messages or [])
        paths = [getattr(f, "name", f) for f in (files if isinstance(files, (list, tuple)) else [files]) if f]
        if not paths:
            return uploads, messages
        names = ", ".join(Path(p).name for p in paths)
        messages.append({"role": "user", "content": format_question_html(f"上传 Upload: {names}")})
        if pipeline is None:
            messages.append({"role": "assistant", "content": format_error_html(load_error or "The index is not loaded.")})
            return uploads, messages
        from rag.uploads import add_files

        uploads, results = add_files(pipeline, uploads, paths, progress)
        persisted = bool(getattr(pipeline.config, "persist_uploads", False))
        messages.append({"role": "assistant", "content": format_upload_html(results, uploads, persisted)})
        return uploads, messages

    return add_uploads


def answer_json(pipeline: Any, question: Any, top_k: Any = TOP_K_DEFAULT) -> AnswerDict:
    """What the app's `/ask` endpoint returns: Answer.to_dict, citations in their original text. top_k follows
    the CLI's rule (rag.config.check_top_k: out of range is a ConfigError, not quietly changed)."""
    answer = pipeline.ask(str(question or ""), top_k=check_top_k(top_k))
    return answer.to_dict(original_text_of(pipeline))
