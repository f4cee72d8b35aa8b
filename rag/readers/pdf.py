"""PDF files: the text layer (pypdf), page by page, with the page each article stands on kept for the citation.

Chinese PDFs set in common CJK fonts often map characters to radical code points (`⻢⼭社区⽼旧管⽹` for
`马山社区老旧管网`); `fold_radicals` maps them back so questions match. The page text is then parsed as the
page dumps are (rag.articles): lines broken by the layout are rejoined, headlines and bylines found.
"""
from __future__ import annotations

import bisect
import io
import unicodedata

from rag.articles import parse_articles
from rag.readers import Document, SkipFile, date_with_year, iso_date

# CJK Radicals Supplement (U+2E80–U+2EFF) → the unified ideograph each one stands for, after Unicode's
# EquivalentUnifiedIdeograph.txt. NFKC folds the Kangxi Radicals (U+2F00–U+2FDF) but not these.
_SUPPLEMENT = dict(zip(
    "⺀⺁⺅⺆⺇⺉⺊⺌⺍⺎⺐⺒⺓⺔⺖⺗⺘⺙⺛⺜⺝⺞⺟⺠⺡⺢⺣⺤⺥⺦⺧⺨⺩⺪⺫⺬⺭⺮⺯⺰⺲⺶⺹⺻⺽⺾⺿⻀⻁⻂⻃⻄⻅⻆⻇⻈⻉⻊⻋⻌⻍⻎⻏⻐⻑⻒⻓⻔⻖⻗⻘⻙⻚⻛⻜⻝⻞⻠⻡⻢⻣⻤⻥⻦⻧⻨⻩⻪⻫⻬⻭⻮⻯⻰⻱⻲⻳",
    "冫厂亻冂几刂卜小小兀尢巳幺彐忄心扌攵旡日月歺母民氵氺灬爫爫丬牛犭王疋罒示礻竹糸纟罒羊耂肀臼艹艹艹虎衤覀西见角角讠贝足车辶辶辶阝钅長镸长门阝雨青韦页风飞食飠饣首马骨鬼鱼鸟卤麦黄黾斉齐歯齿竜龙龜亀龟",
))


def fold_radicals(text: str) -> str:
    """Radical code points → the characters they stand for (Kangxi Radicals by NFKC, the CJK Radicals
    Supplement by the table above), and CJK compatibility ideographs by NFKC; nothing else changes."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0x2F00 <= code <= 0x2FDF or 0xF900 <= code <= 0xFAFF:
            out.append(unicodedata.normalize("NFKC", ch))
        else:
            out.append(_SUPPLEMENT.get(ch, ch))
    return "".join(out)


def read_pdf(raw: bytes, name: str) -> Document:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every odd font
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):  # many PDFs are "encrypted" with an empty password
            raise SkipFile("encrypted PDF: save an unprotected copy (print to PDF) and add that")
        pages = [fold_radicals(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata or {}
        title, created = str(info.get("/Title") or "").strip(), info.get("/CreationDate")
    except SkipFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        message = str(error)
        if "cryptography" in message or "AES" in message:
            raise SkipFile("encrypted PDF: save an unprotected copy (print to PDF) and add that") from None
        raise SkipFile(f"damaged PDF ({type(error).__name__}: {message[:120]})") from None
    if not any(pages):
        raise SkipFile(f"no text layer ({len(pages)} page(s) of images: a scan); run OCR on it first, "
                       f"e.g. `ocrmypdf in.pdf out.pdf`, and add out.pdf")
    starts, parts, pos = [], [], 0
    for page in pages:
        starts.append(pos)
        parts.append(page)
        pos += len(page) + 2
    text = "\n\n".join(parts)
    articles = parse_articles(text, name)
    for article in articles:
        first = article.paragraphs[0][0][1]
        last = article.paragraphs[-1][-1][1]
        a, b = bisect.bisect_right(starts, first), bisect.bisect_right(starts, last)
        article.metadata["page"] = str(a) if a == b else f"{a}–{b}"
        if not article.title and title:
            article.title = title
    date_with_year(articles, _pdf_date(created))
    return Document(text, articles)


def _pdf_date(value) -> str:
    """'D:20221214083000+08'00'' (a PDF date) → '2022-12-14'."""
    text = str(value or "")
    if text.startswith("D:") and len(text) >= 10 and text[2:10].isdigit():
        return iso_date(f"{text[2:6]}-{text[6:8]}-{text[8:10]}")
    return iso_date(value)
