"""HTML news pages: the main text without navigation, scripts, comments and boilerplate (trafilatura), and
the page's title, date, author, site and URL for the citation."""
from __future__ import annotations

import re

from rag.articles import _DATELINE, is_byline
from rag.readers import Document, SkipFile, article_of, date_with_year, iso_date

# Lines around the story that are the page's metadata, not its text: "2022-12-20 10:15 来源：新华网",
# "【责任编辑：王琳】", a bare date.
_META_LINE = re.compile(r"^(?:[【\[(（]?(?:责任编辑|编辑|责编|来源|作者)[:：][^】\])）]*[】\])）]?"
                        r"|\d{4}[-年/.]\d{1,2}[-月/.]\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?\s*(?:(?:来源|作者|编辑)[:：].*)?)$")
_CHINESE_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_AUTHOR_LABEL = re.compile(r"^(?:作者|记者|来源|编辑)\s*[:：]\s*")


def read_html(raw: bytes, name: str) -> Document:
    import logging

    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it warns on every short page
    html = _decode(raw, name)
    found = {}
    # favor_precision first: on short pages the default keeps the navigation bar as text. Tables last: many
    # Chinese e-paper pages lay the whole page out in one, whose cells (the edition list) would become text.
    for options in ({"favor_precision": True, "include_tables": False}, {"include_tables": False},
                    {"favor_precision": True, "include_tables": True}):
        extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, **options)
        if extracted is not None and (extracted.text or "").strip():
            found = extracted.as_dict()
            break
    title = " ".join((found.get("title") or "").split())
    lines = [line.strip() for line in (found.get("text") or "").splitlines() if line.strip()]
    if lines and title and lines[0] == title:  # the <h1> repeats the title
        lines.pop(0)
    lines = [line for line in lines if not (len(line) <= 60 and _META_LINE.match(line))]
    body = "\n".join(lines)
    if not body:
        raise SkipFile("no article text in the page (only navigation, scripts or markup)")
    author = _AUTHOR_LABEL.sub("", found.get("author") or "").strip()
    metadata = {"author": author, "site": found.get("sitename") or "", "url": found.get("url") or ""}
    article = article_of(name, 0, title, body, 0, len(body), metadata)
    first = article.paragraphs[0][0][0] if article.paragraphs else ""
    if is_byline(first):  # "□本报记者 …" above the story: metadata, not body text
        article.paragraphs.pop(0)
        article.sections.pop(0)
        first = article.paragraphs[0][0][0] if article.paragraphs else ""
    dateline = _DATELINE.match(first)
    if dateline:
        article.metadata["dateline"] = dateline.group(0).strip()
        if dateline.group("date"):
            article.metadata["date"] = dateline.group("date")
    date_with_year([article], _page_date(found.get("date"), html))
    if not article.title:
        article.title = first[:30]
    return Document(body, [article] if article.paragraphs else [])


def _page_date(found: str | None, html: str) -> str:
    """The page's date: trafilatura's (htmldate), unless it is only a year it guessed ("2022-01-01" with no
    such day on the page), then a 2022年12月20日 written on the page, else none rather than a wrong one."""
    found = iso_date(found)
    written = _CHINESE_DATE.search(html)
    written = iso_date(written.group(0)) if written else ""
    if found and found.endswith("-01-01") and found not in html and f"{found[:4]}年1月1日" not in html:
        found = ""
    return found or written


def _decode(raw: bytes, name: str) -> str:
    """The page as text: its BOM, its declared charset (meta), else UTF-8, else GB18030."""
    from rag.corpus import decode_bytes

    declared = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", raw[:4096], re.IGNORECASE)
    if declared and not raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(raw, name)
