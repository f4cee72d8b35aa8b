"""HTML news pages: the main text without navigation, scripts, comments and boilerplate (trafilatura), and
the page's title, date, author, site and URL for the citation."""
from __future__ import annotations

import re

from rag.articles import _DATELINE, is_byline
from rag.readers import Document, SkipFile, article_of, date_with_year, iso_date

_AUTHOR_LABEL = re.compile(r"^(?:作者|记者|来源|编辑)\s*[:：]\s*")


def read_html(raw: bytes, name: str) -> Document:
    import logging

    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it warns on every short page
    html = _decode(raw, name)
    # favor_precision: on short pages the default falls back to keeping the navigation bar as text.
    extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=True,
                                            favor_precision=True)
    found = extracted.as_dict() if extracted is not None else {}
    title = " ".join((found.get("title") or "").split())
    lines = [line.strip() for line in (found.get("text") or "").splitlines() if line.strip()]
    if lines and title and lines[0] == title:  # the <h1> repeats the title
        lines.pop(0)
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
    date_with_year([article], iso_date(found.get("date")))
    if not article.title:
        article.title = first[:30]
    return Document(body, [article] if article.paragraphs else [])


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
