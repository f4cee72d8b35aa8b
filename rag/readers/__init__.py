"""Files → documents: the text a citation shows and the articles in it, one reader per format.

`read_document(path, name)` picks the reader by the file's content where the content says what it is (a
PDF, a Word file, an HTML page), else by its suffix, and returns a `Document`: the extracted text (what
answers are read from and citations' offsets index into) and its articles (rag.articles.Article). A file
that cannot be read raises `SkipFile` with the reason the build summary shows. Markup never reaches the
text: an `.html` page, and a `.txt` whose content is a page, are read by trafilatura.

The readers' libraries (trafilatura, pypdf, python-docx) are imported only when a file of that kind is read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rag.articles import Article, split_paragraphs

# suffix → reader kind
SUFFIX_KINDS = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html", ".xhtml": "html",
                ".pdf": "pdf", ".docx": "docx", ".jsonl": "records", ".ndjson": "records", ".csv": "records"}
READABLE_SUFFIXES = tuple(SUFFIX_KINDS)
# What to do with files we do not read (said in the skip reason).
_CONVERT = {".doc": "save it as .docx", ".wps": "save it as .docx", ".rtf": "save it as .docx",
            ".xls": "export the articles as .csv", ".xlsx": "export the articles as .csv",
            ".json": "write one article per line as .jsonl"}
KIND_NAMES = {"text": "text", "html": "an HTML page", "pdf": "a PDF", "docx": "a Word (.docx) file",
              "records": "article records"}


class SkipFile(Exception):
    """A file that is not indexed; the message is the reason (without the file name)."""


@dataclass
class Document:
    text: str  # the extracted text: what answers are read from, what offsets index into
    articles: list[Article]
    notes: list[str] = field(default_factory=list)  # e.g. records skipped inside the file, read by content


def unsupported_reason(suffix: str) -> str:
    suffix = suffix.lower()
    hint = f": {_CONVERT[suffix]}" if suffix in _CONVERT else ""
    what = f"type {suffix}" if suffix else "a file without a suffix"
    return f"unsupported {what}{hint} (reads {' '.join(READABLE_SUFFIXES)})"


_IMAGES = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
           (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"BM", "a BMP image"))
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
                         re.IGNORECASE | re.DOTALL)


def sniff(raw: bytes) -> str:
    """What the bytes are: 'pdf', 'docx', 'html', 'text', or a description of something we do not read."""
    head = raw[:2048].lstrip(b"\xef\xbb\xbf")
    if head.lstrip().startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx" if b"word/" in raw else "a ZIP archive"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Office file (.doc/.xls: save it as .docx or .csv)"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    for magic, what in _IMAGES:
        if head.startswith(magic) and (magic != b"BM" or b"\x00" in head[:64]):
            return what
    if _HTML_START.match(head) or _HTML_START.match(_utf16_ascii(head)):
        return "html"
    return "text"


def _utf16_ascii(head: bytes) -> bytes:
    return head.replace(b"\x00", b"") if head[:2] in (b"\xff\xfe", b"\xfe\xff") else b""


def read_document(path: Path, name: str) -> Document:
    """The document in one file (SkipFile with the reason when it is not indexed)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIX_KINDS:
        raise SkipFile(unsupported_reason(suffix))
    raw = Path(path).read_bytes()
    declared, content = SUFFIX_KINDS[suffix], sniff(raw)
    if content not in KIND_NAMES:  # an image, an archive, an old Office file
        raise SkipFile(f"its content is {content}, not {KIND_NAMES[declared]}")
    kind = declared
    notes = []
    if content in ("pdf", "docx") and declared != content or content == "html" and declared in ("text", "records"):
        kind = content  # read by what it is; the summary says so
        notes.append(f"{name}: read as {KIND_NAMES[content]} (its content), not as {suffix}")
    elif declared in ("pdf", "docx") and content != declared:
        raise SkipFile(f"not {KIND_NAMES[declared]}: its content is {KIND_NAMES[content]} (damaged, or a wrong suffix)")
    document = _READERS[kind](raw, name)
    document.notes[:0] = notes
    return document


def _read_text(raw: bytes, name: str) -> Document:
    from rag.articles import parse_articles
    from rag.corpus import decode_bytes

    text = decode_bytes(raw, name)
    return Document(text, parse_articles(text, name))


def _read_html(raw: bytes, name: str) -> Document:
    from rag.readers.html import read_html

    return read_html(raw, name)


def _read_pdf(raw: bytes, name: str) -> Document:
    from rag.readers.pdf import read_pdf

    return read_pdf(raw, name)


def _read_docx(raw: bytes, name: str) -> Document:
    from rag.readers.word import read_docx

    return read_docx(raw, name)


def _read_records(raw: bytes, name: str) -> Document:
    from rag.readers.records import read_records

    return read_records(raw, name)


_READERS = {"text": _read_text, "html": _read_html, "pdf": _read_pdf, "docx": _read_docx, "records": _read_records}


# ----------------------------------------------------------------------------------------------
# Shared by the readers
# ----------------------------------------------------------------------------------------------

def article_of(source: str, number: int, title: str, text: str, start: int, end: int,
               metadata: dict[str, str]) -> Article:
    """One article whose body is the lines of text[start:end], each its own paragraph (offsets into text)."""
    paragraphs = [[(p.text, start + p.start, start + p.end)] for p in split_paragraphs(text[start:end])]
    return Article(source=source, title=title.strip(), number=number, paragraphs=paragraphs,
                   sections=[""] * len(paragraphs), metadata={k: v for k, v in metadata.items() if v})


_ISO_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")
_MONTH_DAY = re.compile(r"^(\d{1,2})月(\d{1,2})日$")


def iso_date(value: object) -> str:
    """'2022-12-14' from what a page, file or record gives ('2022-12-14T08:00', '2022年12月14日', a date), else ''."""
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    match = _ISO_DATE.search(str(value or ""))
    if not match:
        return ""
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day).strftime("%Y-%m-%d")
    except ValueError:
        return ""


def date_with_year(articles: list[Article], document_date: str) -> None:
    """Give each article a dated year: a dateline's '12月14日' takes the year of the document's date (the
    year before when the dateline's month is after the document's: a December story in a January issue);
    without a document date the dateline stays as it is, never a guessed year."""
    if not document_date:
        return
    year, month = int(document_date[:4]), int(document_date[5:7])
    for article in articles:
        found = _MONTH_DAY.match(article.metadata.get("date", ""))
        if found:
            m, d = int(found.group(1)), int(found.group(2))
            article.metadata["date"] = iso_date(f"{year - (m > month)}-{m}-{d}") or article.metadata["date"]
        elif not article.metadata.get("date"):
            article.metadata["date"] = document_date

