"""Word (.docx) files: paragraphs and headings (python-docx), tables row by row.

Headings become Markdown headings in the extracted text, so the page-dump parser (rag.articles) splits the
file into articles at its level-1 headings and keeps the others as section titles.
"""
from __future__ import annotations

import io

from rag.articles import parse_articles
from rag.readers import Document, SkipFile


def read_docx(raw: bytes, name: str) -> Document:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise SkipFile(f"damaged Word file ({type(error).__name__}: {str(error)[:120]})") from None
    lines = []
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = docx.text.paragraph.Paragraph(block, document)
            text = " ".join(paragraph.text.split())
            if text:
                lines.append(_heading_mark(paragraph) + text)
        elif tag == "tbl":
            table = docx.table.Table(block, document)
            for row in table.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                if any(cells):
                    lines.append(" | ".join(cells))
    if not lines:
        raise SkipFile("no text in the Word file")
    properties = document.core_properties
    text = "\n".join(lines)
    articles = parse_articles(text, name)
    for article in articles:
        if not article.title and properties.title:
            article.title = properties.title.strip()
    # The file's own dates (core properties) are when the file was made, often a template's: a dateline keeps
    # no year rather than a wrong one.
    return Document(text, articles)


def _heading_mark(paragraph) -> str:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if style == "Title" or style == "Heading 1":
        return "# "
    if style.startswith("Heading"):
        return "## "
    return ""
