"""Gradio chat app: extractive question answering over Chinese news articles, with citations.

Run locally with `python app.py` (http://127.0.0.1:7860; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
override host and port). This file is also the entry point of the Hugging Face Space. Settings
come only from environment variables (RAG_EMBEDDER, RAG_INDEX, RAG_CORPUS, RAG_READER, RAG_STORE,
RAG_MILVUS_URI, RAG_COLLECTION), read by rag.config.Config.from_env with defaults next to this file.

What the chat shows (escaped HTML of answers, citations, status) is built without Gradio in
rag/render.py, and the chat turn in rag/chat.py; the styles are static/app.css. Importing this module does no work:
`build_app(pipeline)` builds the UI around any object with the Pipeline interface (tests pass a
fake), and `main()` loads the real pipeline and serves it.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from rag.config import Config
from rag.errors import RagError
from rag.chat import TOP_K_DEFAULT, TOP_K_MAX, TOP_K_MIN, answer_json, make_chat_fns, make_upload_fn
from rag.render import status_html
from rag.types import AnswerDict

HERE = Path(__file__).resolve().parent
CSS_PATH = HERE / "static" / "app.css"
JS_PATH = HERE / "static" / "app.js"
# After an answer, static/app.js brings the new question to the top of the chat so the answer is in view; before it,
# as soon as the question is sent, it brings the question into view (the chat may be scrolled up).
SHOW_ANSWER_JS = "() => window.ragShowAnswer && window.ragShowAnswer()"
SHOW_QUESTION_JS = "() => window.ragShowQuestion && window.ragShowQuestion()"

TITLE = "新闻问答 · News QA"
EXAMPLES = [
    "平度市累计建成了多少万亩高标准农田？",
    "胶州市探索成立了几个片区联合党委？",
    "辛安街道辖域面积是多少？",
    "Which city signed China's first government-subsidised egg futures income insurance?",
]
MAX_QUESTION_INPUT = 2000  # characters the text box accepts (the pipeline truncates further)
# Chat turns and /ask calls share one queue (default concurrency limit 1): the pipeline is
# loaded once and shared, and is not documented as thread-safe; answers take tens of ms.
PIPELINE_QUEUE = "pipeline"


def make_api_fn(pipeline: Any, load_error: str | None = None) -> Callable[[str, int], dict]:
    """The function behind the `/ask` endpoint (rag.chat.answer_json; errors as gr.Error)."""

    def ask(question: str, top_k: int = TOP_K_DEFAULT) -> AnswerDict:
        """Answer a question from the news articles. top_k: passages to cite, a whole number from 1 to 100. Returns the answer, short answer, abstained flag, citations (source, title, text, start, end, score), latency_ms, notes, span and short_span."""
        if pipeline is None:
            raise gr.Error(load_error or "The index is not loaded.")
        try:
            return answer_json(pipeline, question, top_k)
        except RagError as error:
            raise gr.Error(str(error)) from error

    # The class itself, not the string `from __future__ import annotations` leaves: gradio reads the return
    # annotation as it is to declare the result's fields on the API page and to gradio_client.
    ask.__annotations__["return"] = AnswerDict
    return ask


# Local font stacks only: no Google Fonts request (offline / mainland-China friendly), CJK first.
FONT_STACK = ["system-ui", "-apple-system", "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
              "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "sans-serif"]
MONO_STACK = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC", "monospace"]


def build_app(pipeline: Any, *, load_error: str | None = None) -> gr.Blocks:
    """Build the chat UI around `pipeline` (None when loading failed: `load_error` is shown)."""
    info = dict(getattr(pipeline, "info", {}) or {}) if pipeline is not None else {}
    add_question, add_answer = make_chat_fns(pipeline, load_error)
    add_uploads = make_upload_fn(pipeline, load_error)
    config = getattr(pipeline, "config", None)
    max_files, max_mb = getattr(config, "upload_max_files", 5), getattr(config, "upload_max_mb", 10)

    def upload(files, uploads, messages, progress=gr.Progress()):
        return add_uploads(files, uploads, messages, lambda fraction, text: progress(fraction, desc=text))

    # Uploaded files are deleted from Gradio's cache within an hour (their text lives on in the session's state).
    with gr.Blocks(title=TITLE, fill_height=True, delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            "## 新闻问答 · News QA\n"
            "Ask about the news articles; every answer is a sentence copied from an article, "
            "with numbered sources you can open to read the original text. "
            "从新闻文章中抽取答案，并给出可展开查看原文的编号引用。"
        )
        gr.HTML(status_html(info, load_error), elem_id="rag-status")
        chatbot = gr.Chatbot(
            label="Chat",
            show_label=False,  # the floating label would cover the first line of the chat
            elem_id="rag-chat",
            height=420,  # grows to fill the window (fill_height=True, scale=1)
            min_height=320,
            render_markdown=False,  # replies are HTML we build (and escape) ourselves
            sanitize_html=True,
            latex_delimiters=[],
            allow_tags=False,
            feedback_options=None,
            buttons=[],
            layout="panel",  # full-width replies: citations need the room, esp. on phones
            placeholder="问一个关于这些新闻的问题，或点击一个示例。<br>Ask a question about the articles, or click an example.",
            examples=[{"text": q} for q in EXAMPLES],  # shown while the chat is empty; a click asks at once
            scale=1,
        )
        asked = gr.State([])  # earlier questions of this conversation (follow-up resolution)
        uploads = gr.State(None)  # this browser session's own files (rag.uploads.Uploads), never shared
        pending = gr.State(None)
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                show_label=False, placeholder="输入问题… Type a question…", scale=6, lines=1,
                max_length=MAX_QUESTION_INPUT, autofocus=True, elem_id="rag-question",
                submit_btn="Ask 提问",
            )
        with gr.Row(equal_height=False):
            top_k = gr.Slider(TOP_K_MIN, TOP_K_MAX, value=TOP_K_DEFAULT, step=1,
                              label="Sources to cite (top-k) 引用数", scale=4, min_width=220,
                              elem_id="rag-topk")
            clear = gr.Button("Clear 清空", scale=0, min_width=110, size="md", variant="secondary",
                              elem_id="rag-clear")
            if max_files:
                add_files = gr.UploadButton(
                    f"上传文章 Add files (≤ {max_files} × {max_mb} MB)", file_count="multiple",
                    scale=0, min_width=180, size="md", elem_id="rag-upload")
                add_files.upload(upload, [add_files, uploads, chatbot], [uploads, chatbot], api_visibility="private",
                                 concurrency_id=PIPELINE_QUEUE, show_progress="full")
        turn_outputs = [chatbot, asked]
        question.submit(
            add_question, [question, chatbot], [question, chatbot, pending],
            queue=False, api_visibility="private",
        ).then(None, js=SHOW_QUESTION_JS).then(
            add_answer, [pending, top_k, chatbot, asked, uploads], turn_outputs, api_visibility="private",
            concurrency_id=PIPELINE_QUEUE).then(None, js=SHOW_ANSWER_JS)

        def ask_example(messages: list, event: gr.SelectData):  # the same two-step turn as typing it
            return add_question(event.value["text"], messages)

        chatbot.example_select(ask_example, [chatbot], [question, chatbot, pending], queue=False,
                               api_visibility="private").then(None, js=SHOW_QUESTION_JS).then(
            add_answer, [pending, top_k, chatbot, asked, uploads], turn_outputs, api_visibility="private",
            concurrency_id=PIPELINE_QUEUE).then(None, js=SHOW_ANSWER_JS)
        clear.click(lambda: ([], [], None), None, [chatbot, asked, pending],
                    queue=False, api_visibility="private")
        # The chat's own trash icon clears the conversation too: a follow-up after it has nothing to follow.
        chatbot.clear(lambda: ([], None), None, [asked, pending], queue=False, api_visibility="private")

        gr.api(make_api_fn(pipeline, load_error), api_name="ask", concurrency_id=PIPELINE_QUEUE)
    return demo


def launch(demo: gr.Blocks, **kwargs) -> Any:
    """demo.launch with the app's theme, CSS and script (Gradio 6 takes them in launch())."""
    kwargs.setdefault("theme", gr.themes.Default(font=FONT_STACK, font_mono=MONO_STACK))
    kwargs.setdefault("css_paths", [CSS_PATH])
    kwargs.setdefault("js", JS_PATH.read_text(encoding="utf-8"))
    return demo.launch(**kwargs)


def load_pipeline(progress: Callable[[str], None] | None = None):
    """(pipeline, None) on success, (None, user-facing message) on a RagError or bad setting."""
    try:
        from rag.pipeline import Pipeline

        config = Config.from_env(root=HERE)  # defaults next to this file, as the CLI's are in its working folder
        return Pipeline.load(config, build_if_needed=True, progress=progress), None
    except RagError as error:  # ConfigError included
        return None, str(error)


def warm_up(pipeline, log: Callable[[str], None]) -> None:
    """Pipeline.warm_up, logged; a failure costs only speed (the first questions then load what they need)."""
    try:
        log(f"warmed up in {pipeline.warm_up():.1f} s")
    except Exception as error:  # noqa: BLE001 - a background nicety must never take the app down or print a traceback
        log(f"warm-up skipped ({error}); the first English question or follow-up loads its tables itself")


def main() -> None:
    def log(line: str) -> None:
        print(f"[rag] {line}", file=sys.stderr, flush=True)

    pipeline, error = load_pipeline(progress=log)
    log(f"index not loaded: {error}" if error else f"loaded: {pipeline.info}")
    if pipeline is not None:  # while the server starts: the first English question and follow-up answer at full speed
        threading.Thread(target=warm_up, args=(pipeline, log), daemon=True).start()
    launch(build_app(pipeline, load_error=error))


if __name__ == "__main__":
    main()
