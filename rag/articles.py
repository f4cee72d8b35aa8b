"""Raw newspaper page dumps → articles with titles, metadata and offsets into the original file.

The seed files are page dumps: several stories per file, titles as `#` headings in some files and
bare short lines in others, sentences broken across columns with photo captions in between,
repeated paragraphs, bylines and datelines. Every piece of body text keeps its (start, end)
character offsets in the decoded original file, so a citation can show the exact original text.

`parse_articles(text, source)` is the one entry point; `rag.corpus.load_corpus` calls it on each decoded file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

SENTENCE_END = "。！？!?…；;"
CLOSERS = "”’」』）)】》\"'"
HEADING_MAX = 48  # characters: longer lines are body text

_BYLINE_BOX = re.compile(r"^□\s*(?:本报)?(?:记者|通讯员|作者)")
# A bare closing byline such as "观海新闻/青岛晚报 记者 马丙政 通讯员 李颖慧" or "本报通讯员 王超".
_BYLINE_BARE = re.compile(r"^[^，。,；;！？]{0,24}(?:记者|通讯员)\s*[\u4e00-\u9fff]{2,4}(?:\s+[^，。,；;！？]{1,20})*$")
_BYLINE_PAREN = re.compile(r"[（(]([^（()）]{0,40}?(?:记者|通讯员|作者)[:：\s][^（()）]{1,60})[)）]\s*$")
# A byline inside body text, usually right after the dateline: "本报讯（记者 王立新 通讯员 李明）近日，…".
_NAME = r"[\u4e00-\u9fff·]{2,5}"
_BYLINE_INLINE = re.compile(
    r"\s*[（(](?:[^（()），。,；;]{0,20}?\s)?(?:本报)?(?:记者|通讯员)[\s:：]*" + _NAME
    + r"(?:[\s、，,]+(?:(?:本报)?(?:记者|通讯员)[\s:：]*)?" + _NAME + r")*\s*[)）]\s*")
_DATELINE = re.compile(r"^\s*本报(?P<place>[^\s\d讯记通]{0,6}?)(?P<date>(?:(?:19|20)\d{2}年)?\d{1,2}月\d{1,2}日)?讯(?!员)")
# The page's own date line ("2024年12月18日 星期三", "青岛日报 2024年12月18日"): its year completes a dateline's
# "12月18日", and it dates the page's articles that have no dateline.
_PAGE_DATE = re.compile(r"(?:[\u4e00-\u9fff]{2,8}\s*)?(?P<date>(?P<year>(?:19|20)\d{2}年)\d{1,2}月\d{1,2}日)"
                        r"(?:\s*(?:星期|周)[一二三四五六日天])?(?:\s*[\u4e00-\u9fff第版]{0,8})?")
_CAPTION_MARK = re.compile(r"[（(](?:资料图|图片|摄|供图|图)[^（()）]{0,12}[)）]\s*$|摄\s*$|^图为")
_MASTHEAD = re.compile(r"([\u4e00-\u9fff]{2,6}(?:日报|晚报|早报|时报|新闻))")
_PUNCT_SPLIT = re.compile(r"[,，\s、:：]+")


@dataclass(frozen=True)
class Paragraph:
    text: str
    start: int  # offsets into the original file text
    end: int


@dataclass
class Article:
    source: str
    title: str
    number: int
    paragraphs: list[list[tuple[str, int, int]]] = field(default_factory=list)  # pieces per paragraph
    sections: list[str] = field(default_factory=list)  # section heading before each paragraph ("" if none)
    metadata: dict[str, str] = field(default_factory=dict)


def split_paragraphs(text: str) -> list[Paragraph]:
    """Non-empty lines, stripped, with their offsets."""
    paragraphs = []
    for match in re.finditer(r"[^\n]+", text):
        line = match.group()
        stripped = line.strip().replace("\u3000", " ").strip()
        if not stripped:
            continue
        lead = len(line) - len(line.lstrip(" \t\r\u3000\ufeff"))
        start = match.start() + lead
        end = start + len(line.strip(" \t\r\u3000\ufeff"))
        paragraphs.append(Paragraph(text[start:end], start, end))
    return paragraphs


def is_finished(text: str) -> bool:
    """Does the paragraph end a sentence (else it was cut by a page column)?"""
    stripped = text.rstrip(CLOSERS + " ")
    return bool(stripped) and (stripped[-1] in SENTENCE_END or text.rstrip()[-1:] in "）)")


def is_byline(text: str) -> bool:
    if len(text) <= 60 and _BYLINE_BARE.match(text):
        return True
    return bool(_BYLINE_BOX.match(text)) or (
        len(text) <= 80 and bool(_BYLINE_PAREN.search(text)) and _BYLINE_PAREN.search(text).start() == 0
    )


def is_caption(text: str) -> bool:
    """Photo captions: explicitly marked, or a short one-clause line ending in 。 (checked by context)."""
    return len(text) <= 60 and bool(_CAPTION_MARK.search(text))


def looks_like_heading(text: str, markdown: bool, following: str = "") -> bool:
    if markdown:
        return text.startswith("#")
    if len(text) > HEADING_MAX or is_finished(text) or is_byline(text) or _DATELINE.match(text):
        return False  # a dateline opens a story's body even when the layout broke its line early
    if any(mark in text[:-1] for mark in "。！？；"):
        return False  # a sentence ends inside: body text cut by a column
    if text.endswith("——") or _DATELINE.match(following) or _BYLINE_BOX.match(following):
        return True  # a kicker, or the line just above a dateline/byline: no sentence runs into "本报…讯"
    parts = [p for p in _PUNCT_SPLIT.split(text) if p]
    # Headlines are balanced phrases ("党建引领，变…为…", "坚持固本强基,提升组织力") or quoted;
    # a line cut mid-sentence by a page column usually ends in a short stub ("…，李沧区").
    if len(text) <= 30 and any(q in text for q in "“”\"《"):
        return True
    if len(parts) >= 2:
        return len(parts[-1]) >= 4 and len(parts[0]) >= 2
    return len(text) <= 8


def _byline_metadata(text: str) -> dict[str, str]:
    body = text.strip("□()（） ")
    meta: dict[str, str] = {}
    match = re.search(r"(?:本报)?记者[:：\s]*([^通讯员报道]+?)(?:\s*(?:本报)?通讯员|\s*报道|$)", body)
    if match:
        meta["reporter"] = " ".join(match.group(1).split())
    if "作者" in body:
        meta["reporter"] = body.split("作者", 1)[1].strip(":： ")
        return meta
    paper = body.split("记者")[0].strip(" /")
    if paper and "本报" not in paper and "通讯员" not in paper and len(paper) <= 30:
        meta["newspaper"] = paper
    return meta


def _without_inline_bylines(line: str, start: int, metadata: dict[str, str]) -> list[tuple[str, int, int]]:
    """The body line as pieces (text, file start, file end) around any byline inside it ("（记者 王立新）"),
    whose reporter goes into metadata (a byline closing the paragraph was cut off before this)."""
    pieces, at = [], 0
    for match in _BYLINE_INLINE.finditer(line):
        if match.end() >= len(line):
            continue
        meta = _byline_metadata(match.group().strip())
        metadata.update({k: v for k, v in meta.items() if k not in metadata})
        if match.start() > at:
            pieces.append((line[at:match.start()], start + at, start + match.start()))
        at = match.end()
    pieces.append((line[at:], start + at, start + len(line)))
    return [piece for piece in pieces if piece[0]]


def parse_articles(text: str, source: str) -> list[Article]:
    """Split one page dump into articles: titles, body pieces with offsets, metadata."""
    paragraphs = split_paragraphs(text)
    markdown = any(p.text.startswith("#") for p in paragraphs)
    masthead = ""
    page_date = None  # the page's date line, when it has one
    articles: list[Article] = []
    current: Article | None = None
    pending_titles: list[str] = []
    section = ""
    seen_bodies: set[str] = set()
    last_kind = "start"  # start | heading | body | byline | caption
    last_body_finished = True

    def start_article() -> Article:
        nonlocal current, section
        kicker = [t for t in pending_titles if t.endswith("——")]
        heads = [t for t in pending_titles if not t.endswith("——")] or kicker
        # The headline is the level-1 heading where the file marks one, else the first line.
        # (short column labels such as "二十大精神" / "在基层" stand above some headlines).
        main = next((t for t in heads if t.startswith("# ")), None) or next(
            (t for t in heads if len(t) > 6), heads[0] if heads else "")
        current = Article(source=source, title=main.lstrip("# ").strip(), number=len(articles))
        after = heads[heads.index(main) + 1:] if main in heads else []
        labels = heads[: heads.index(main)] if main in heads else []
        if after:
            current.metadata["subtitle"] = " ".join(t.lstrip("# ").strip() for t in after)
        if labels:
            current.metadata["column"] = " ".join(t.lstrip("# ").strip() for t in labels)
        if kicker:
            current.metadata["kicker"] = " ".join(kicker).rstrip("—")
        if masthead:
            current.metadata["newspaper"] = masthead
        if page_date:
            current.metadata["date"] = page_date.group("date")
        articles.append(current)
        pending_titles.clear()
        section = ""
        return current

    for index, para in enumerate(paragraphs):
        line = para.text
        following = paragraphs[index + 1].text if index + 1 < len(paragraphs) else ""
        if len(line) <= 30 and _PAGE_DATE.fullmatch(line):
            page_date = _PAGE_DATE.fullmatch(line)
            continue
        if current is None and not markdown and not pending_titles and _MASTHEAD.fullmatch(line.split()[0]) and len(line) <= 12:
            masthead = _MASTHEAD.search(line).group(1)
            continue
        if (markdown and current is None and not pending_titles and not line.startswith("#")
                and not is_finished(line) and len(line) <= 20 and not is_byline(line)):
            found = _MASTHEAD.search(line)  # "大众日报 客户端" above the first headline
            masthead = found.group(1) if found else masthead
            continue
        if is_byline(line):
            meta = _byline_metadata(line)
            if _BYLINE_BOX.match(line) and (last_kind in ("body",) and not pending_titles):
                start_article()  # a "□记者 …" line after body text opens an untitled story
            elif pending_titles:
                start_article()
            if current is not None:
                current.metadata.update({k: v for k, v in meta.items() if k not in current.metadata})
            # "□记者 …" stands under a headline; any other byline closes the story.
            last_kind = "byline" if _BYLINE_BOX.match(line) else "byline_end"
            continue
        if is_caption(line) or (
            not markdown and len(line) <= 30 and line.endswith("。") and "，" not in line and "," not in line
            and last_kind in ("heading", "byline") and (bool(pending_titles) or last_kind == "byline")
            and not _DATELINE.match(line) and bool(following) and not looks_like_heading(following, markdown)
        ):
            last_kind = "caption"  # photo caption: not part of any sentence
            continue
        continues = last_kind in ("body", "caption") and not last_body_finished and current is not None
        if not continues and looks_like_heading(line, markdown, following):
            level = len(line) - len(line.lstrip("#")) if markdown else 0
            heading = ("# " if level == 1 else "") + line.lstrip("#").strip()
            opens_article = (
                level == 1 or current is None or last_kind == "byline_end" or heading.endswith("——")
                or (not markdown and (_DATELINE.match(following) or _BYLINE_BOX.match(following)))
                or bool(pending_titles and pending_titles[-1].endswith("——"))
            )
            if markdown and level >= 2 and pending_titles:
                opens_article = True  # a subtitle next to the headline
            if opens_article or pending_titles:
                pending_titles.append(heading)
            else:
                section = heading
            last_kind = "heading"
            continue
        # Body text. Strip a closing byline "(观海新闻/青岛晚报 记者 …)" at the end of the paragraph.
        end = para.end
        closing = _BYLINE_PAREN.search(line)
        byline_end = False
        if closing:
            if current is not None or pending_titles:
                if pending_titles:
                    start_article()
                meta = _byline_metadata(closing.group(0))
                current.metadata.update({k: v for k, v in meta.items() if k not in current.metadata})
            end = para.start + closing.start()
            line = line[: closing.start()].rstrip()
            end = para.start + len(line)
            byline_end = True
        if not line:
            last_kind = "byline_end"
            continue
        if pending_titles or current is None:
            start_article()
        dateline = _DATELINE.match(line)
        if dateline and "dateline" not in current.metadata:
            current.metadata["dateline"] = dateline.group(0).strip()
            if dateline.group("date"):
                date = dateline.group("date")
                year = page_date.group("year") if page_date and "年" not in date else ""
                current.metadata["date"] = year + date
        pieces = _without_inline_bylines(line, para.start, current.metadata)
        line = "".join(text for text, _, _ in pieces)
        key = re.sub(r"\s+", "", line)
        if key in seen_bodies and len(key) >= 20:
            last_kind = "byline_end" if byline_end else "caption"  # a repeated paragraph: dropped
            continue
        seen_bodies.add(key)
        if continues and current.paragraphs:
            current.paragraphs[-1].extend(pieces)
        else:
            current.paragraphs.append(pieces)
            current.sections.append(section)
        last_body_finished = is_finished(line)
        last_kind = "byline_end" if byline_end else "body"
    for article in articles:
        if not article.title and article.paragraphs:
            first = article.paragraphs[0][0][0]
            cut = min((first.find(c) for c in "。！？" if c in first), default=len(first))
            article.title = first[: min(cut, 30)]
    return [a for a in articles if a.paragraphs]
