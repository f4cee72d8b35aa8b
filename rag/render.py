"""What the chat app shows, built without Gradio (so it is tested without a server): escaping and the HTML
of answers, citations, questions, uploads and the status line (rag.chat puts them into a chat turn).

Safety: every piece of corpus or user text goes through `esc()` (HTML-escaped, and the characters
Markdown / autolinking would interpret are written as numeric entities) before it is placed in a
reply; app.py's Chatbot renders replies as sanitised HTML with Markdown and LaTeX turned off.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

from rag.report import count
from rag.types import UPLOADED, Answer, Chunk

# The repository root, where app.py and (by default) the index live: the status line shows an index
# folder below it relative to it.
APP_ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------------------------
# Escaping
# ----------------------------------------------------------------------------------------------

# HTML-special characters plus every character that Markdown, GFM autolinks or KaTeX could treat
# as syntax. Written as numeric character references they render as the same glyphs but are
# never parsed as markup, even if Markdown rendering were switched on again.
_ESCAPES = {ch: f"&#{ord(ch)};" for ch in "&<>\"'`[]()!*_~$\\|#{}:@=+-^"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def esc(text: object, line_break: str = "<br>") -> str:
    """Escape text for the chat HTML: no tag, entity, Markdown, link or math syntax survives.

    Line breaks become <br>, so replies are a single line (gradio runs messages through
    inspect.cleandoc, which would otherwise strip leading full-width spaces); text meant to be copied
    rather than shown takes `line_break="&#10;"` (a line break as a character reference).
    """
    s = str(text).translate(_ESCAPE_TABLE)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return s.replace("\n", line_break)


_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef“”‘’—…·]")
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)


def reading_text(text: str) -> str:
    """A passage on one line as a reader reads it: `#` heading marks gone, line breaks joined with nothing
    between Chinese characters ("粮食院" + "士专家", a sentence cut by a page column) and with a space
    elsewhere. For terminals; the exact file text stays in the JSON and the chat's citations."""
    lines = [line.strip() for line in _HEADING_MARK.sub("", text).splitlines() if line.strip()]
    out = ""
    for line in lines:
        glue = "" if not out or (_CJK.match(out[-1]) and _CJK.match(line[0])) else " "
        out += glue + " ".join(line.split())
    return out


# ----------------------------------------------------------------------------------------------
# Formatting answers
# ----------------------------------------------------------------------------------------------

# (metadata keys tried in order, label); the library fills what each article's byline gives.
_META_FIELDS = ((("newspaper",), "报纸 Newspaper"), (("site",), "网站 Site"), (("date", "dateline"), "日期 Date"),
                (("reporter", "author"), "记者 Reporter"), (("page",), "页 Page"), (("record",), "记录 Record"),
                (("url",), "网址 URL"))
_META_FORMATS = {"page": "第 {} 页", "record": "第 {} 条"}


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


def _answer_spans(answer: Answer, chunk: Chunk) -> list[tuple[int, int, str]]:
    """Highlight spans (relative to the chunk's original text) for the answer and short answer."""
    if answer.abstained or answer.chunk is None or chunk.source != answer.chunk.source:
        return []
    marked = ((answer.span, "rag-hl"), (answer.short_span if answer.short_answer else None, "rag-hl rag-hl-short"))
    return [(span.start - chunk.start, span.end - chunk.start, css) for span, css in marked
            if span is not None and span.start < chunk.end and span.end > chunk.start]


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
    # Overlapping passages of the same file may all hold the answer sentence (highlighted in each); the tag
    # goes only on the passage the answer was taken from.
    contains = bool(spans) and answer.chunk is not None and chunk.id == answer.chunk.id
    title = chunk.title or chunk.source
    metadata = chunk.metadata or {}
    meta_parts = []
    for keys, label in _META_FIELDS:
        key = next((k for k in keys if metadata.get(k)), "")
        value = _META_FORMATS.get(key, "{}").format(metadata[key]) if key else ""
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
    if metadata.get(UPLOADED):  # the user's own file, added in this session
        badge += ' <span class="rag-badge rag-badge-upload">你上传的 your file</span>'
    return (
        f'<details class="rag-cite" data-cite="{number}">'
        f'<summary><span class="rag-num">[{number}]</span> <span class="rag-title">{esc(title)}</span>'
        f'{badge} <span class="rag-src">{esc(chunk.source)} · {chunk.start}–{chunk.end}</span></summary>'
        f'{subtitle}<div class="rag-meta">{" · ".join(meta_parts)}</div>'
        f'{fallback}'
        f'<div class="rag-passage">{_highlight(original, spans)}</div>'
        f'</details>'
    )


def format_answer_html(answer: Answer, original_text_fn: Callable[[Chunk], str]) -> str:
    """The chat reply for one Answer, as a single line of safe HTML.

    Shows the short answer prominently, the answer sentence with its citation number, any notes,
    and numbered citations as <details> blocks holding the ORIGINAL passage text (read through
    `original_text_fn(chunk)`) with the answer highlighted. Abstentions say so plainly and list
    the nearest passages instead. The answer's own passage is the first citation (rag.answer puts it there).
    """
    cites = list(answer.citations)
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
        if answer.short_answer:
            parts.append(f'<div class="rag-short">{esc(answer.short_answer)}</div>')
        sentence = answer.text
        pos = sentence.find(answer.short_answer) if answer.short_answer else -1
        if pos >= 0:
            sentence_html = _highlight(sentence, [(pos, pos + len(answer.short_answer), "rag-hl-short")])
        else:
            sentence_html = esc(sentence)
        ref = ' <span class="rag-ref">[1]</span>' if cites else ""
        parts.append(f'<div class="rag-sentence">{sentence_html}{ref}</div>')
        parts.append(_copy_button(answer))
    for note in answer.notes:
        parts.append(f'<div class="rag-note">ⓘ {esc(note)}</div>')
    if cites:
        heading = "最相近的段落 Nearest passages" if answer.abstained or not answer.text else "引用 Sources"
        parts.append(f'<div class="rag-cites-h">{heading}</div><div class="rag-cites">')
        parts.extend(_citation_html(i, c, answer, original_text_fn) for i, c in enumerate(cites, 1))
        parts.append("</div>")
    if answer.latency_ms is not None:
        parts.append(f'<div class="rag-foot">{answer.latency_ms:.0f} ms</div>')
    parts.append("</div>")
    return "".join(parts)


def _copy_button(answer: Answer) -> str:
    """A button that copies the answer with where it comes from. static/app.js handles the click and copies
    the text of the hidden `.rag-copy-text` beside it: the chat sanitises replies, dropping inline handlers
    and data-* attributes (a `data-copy` attribute arrived empty), but it keeps elements, classes and text."""
    lines = [answer.short_answer] if answer.short_answer else []
    lines.append(answer.text)
    if answer.chunk is not None:
        lines.append(f"—— {answer.chunk.title or answer.chunk.source} ({answer.chunk.source})")
    text = esc("\n".join(lines), line_break="&#10;")  # a <br> has no text to copy
    return (f'<span class="rag-copy-text">{text}</span>'
            f'<button type="button" class="rag-copy" title="复制答案 Copy the answer">复制 Copy</button>')


def format_error_html(message: str) -> str:
    return f'<div class="rag-reply"><div class="rag-error">⚠ {esc(message)}</div></div>'


QUESTION_FOLD_CHARS = 160  # a longer question (or one of many lines) is shown folded, as chat apps do


def format_question_html(question: str) -> str:
    """The user's message: the question as typed, escaped; a long pasted one folded to its first line."""
    if len(question) <= QUESTION_FOLD_CHARS and question.count("\n") < 4:
        return f'<div class="rag-question">{esc(question)}</div>'
    preview = " ".join(question[:80].split())
    return (f'<details class="rag-question rag-question-folded"><summary><span class="rag-preview">{esc(preview)}…'
            f'</span> <span class="rag-more">展开全文 show all ({len(question)} 字)</span><span class="rag-less">'
            f'收起 fold</span></summary><div class="rag-question-full">{esc(question)}</div></details>')


def _counted(number: Any, noun: str) -> str:
    return count(number, noun) if isinstance(number, int) else f"? {noun}s"


def status_html(info: dict | None, error: str | None = None, root: Path = APP_ROOT) -> str:
    if error:
        return (f'<div class="rag-status rag-status-error">⚠ 索引未加载 The index could not be loaded: '
                f'{esc(error)}</div>')
    info = info or {}
    index_dir = str(info.get("index_dir", "?"))
    try:  # shorter and host-independent when the index sits next to the app
        index_dir = Path(index_dir).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        pass
    note = f' · <span class="rag-status-note">{esc(info["note"])}</span>' if info.get("note") else ""
    reader = f' · reader <code>{esc(info["reader"])}</code>' if info.get("reader") else ""
    return (
        '<div class="rag-status">'
        f'Embedder <code>{esc(info.get("embedder", "?"))}</code> · '
        f'index folder <code>{esc(index_dir.rstrip("/") + "/")}</code> · '
        f'{esc(_counted(info.get("articles"), "article"))} · {esc(_counted(info.get("chunks"), "chunk"))}'
        f'{reader}{note}</div>'
    )


def format_upload_html(results: Sequence[Any], uploads: Any = None, persisted: bool = False) -> str:
    """The chat message after files were added: each file with what was indexed or why it was not."""
    rows = []
    for result in results:
        mark, css = ("✓", "rag-upload-ok") if result.added else ("✗", "rag-upload-bad")
        rows.append(f'<li class="{css}">{mark} <code>{esc(result.name)}</code>: {esc(result.message)}</li>')
    names = getattr(uploads, "names", ()) or ()
    where = ("They are in the shared index now, for every visitor." if persisted else
             "Only this browser session searches them; they are gone when it ends. "
             "只在本次会话中检索，关闭页面即删除。")
    held = (f'<div class="rag-note">This session\'s files 本会话的文件 ({len(names)}): '
            f'{esc(", ".join(names))}. {esc(where)}</div>') if names or persisted else ""
    return f'<div class="rag-reply rag-upload"><ul>{"".join(rows)}</ul>{held}</div>'
