"""Small documents of each format the readers take, made here (no fixtures on disk, no network): a PDF
with a Chinese text layer written by hand, a Word file (python-docx), an HTML news page, article records.

The tests build their files with these, and benchmarks/extract.py times the readers on bigger ones.
"""
from __future__ import annotations

import io
import json


def make_pdf(pages: list[list[str]], *, title: str = "", created: str = "", text: bool = True) -> bytes:
    """A PDF whose pages hold these lines as a text layer (a Type0 font, Identity-H, with a ToUnicode map:
    what extraction reads; no glyphs are embedded, as extraction needs none). text=False: pages without a
    text layer, as a scan has."""
    chars = sorted({ch for page in pages for line in page for ch in line})
    code = {ch: i + 1 for i, ch in enumerate(chars)}
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    page_tree = add(b"")
    cmap = _to_unicode(code)
    to_unicode = add(b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream")
    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H "
               b"/DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
               b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>] "
               b"/ToUnicode %d 0 R >>" % to_unicode)
    kids = []
    for page in pages:
        ops = [b"BT /F1 12 Tf 14 TL 50 800 Td"]
        for line in page if text else []:
            ops.append(b"<" + "".join(f"{code[ch]:04X}" for ch in line).encode() + b"> Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops) if text else b"q 595 0 0 842 0 0 cm Q"
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
                        b"/Contents %d 0 R >>" % (page_tree, font, content)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % page_tree
    objects[page_tree - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                              + b"] /Count %d >>" % len(kids))
    info = add(b"<< /Title " + _pdf_string(title) + (b" /CreationDate (D:%s000000)" % created.replace("-", "").encode()
                                                     if created else b"") + b" >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, catalog, info, xref))
    return out.getvalue()


def _to_unicode(code: dict[str, int]) -> bytes:
    lines = [b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
             b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
             b"1 begincodespacerange <0000> <FFFF> endcodespacerange"]
    items = sorted(code.items(), key=lambda item: item[1])
    for start in range(0, len(items), 100):
        block = items[start:start + 100]
        lines.append(b"%d beginbfchar" % len(block))
        lines += [b"<%04X> <%s>" % (number, ch.encode("utf-16-be").hex().upper().encode()) for ch, number in block]
        lines.append(b"endbfchar")
    lines.append(b"endcmap CMapName currentdict /CMap defineresource pop end end")
    return b"\n".join(lines)


def _pdf_string(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def make_docx(title: str, paragraphs: list[str], sections: dict[str, list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    for heading, texts in (sections or {}).items():
        document.add_heading(heading, level=2)
        for text in texts:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_html(title: str, paragraphs: list[str], *, date: str = "", author: str = "", site: str = "") -> bytes:
    """A news page as sites serve them: navigation, scripts, a sidebar and a footer around the story."""
    meta = "".join(f'<meta property="{k}" content="{v}">' for k, v in
                   (("article:published_time", date), ("og:site_name", site), ("og:title", title)) if v)
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}_{site or "新闻网"}</title>{meta}'
            f'<script>var tracker = "window.analytics"; function nav(){{return "</div>";}}</script>'
            f'<style>.nav{{color:red}}</style></head><body>'
            f'<div class="nav"><a href="/">首页</a> | <a href="/news">新闻</a> | <a href="/sports">体育</a></div>'
            f'<article><h1>{title}</h1>' + (f'<div class="byline">作者：{author}</div>' if author else "")
            + f'{body}</article>'
            f'<aside class="sidebar"><h3>热门推荐</h3><ul><li><a href="/1">广告：点击领取优惠</a></li></ul></aside>'
            f'<footer>版权所有 © 新闻网 京ICP备12345678号</footer></body></html>').encode("utf-8")


def make_jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")


def make_csv(records: list[dict]) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode("utf-8")
