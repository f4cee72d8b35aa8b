"""Article records: `.jsonl` (one JSON object a line) or `.csv` (a header row), one article per record, as
news datasets and CMS exports come.

Fields (the first one present is used; names are matched case-insensitively):
  text     content, text, body, article, 正文, 内容        (required: a record without it is skipped, with a note)
  title    title, headline, 标题
  date     date, published, publish_time, pub_date, time, 日期, 发布时间
  site     source, site, sitename, media, newspaper, 来源, 媒体
  url      url, link, 链接
  author   author, reporter, byline, 作者, 记者
The extracted text is each record's title and text, records separated by a blank line; a citation shows
the record's number (from 1), its URL and date. HTML in a record's text is reduced to its text.
"""
from __future__ import annotations

import csv
import io
import json
import re

from rag.readers import Document, SkipFile, article_of, iso_date

FIELDS = {
    "text": ("content", "text", "body", "article", "正文", "内容"),
    "title": ("title", "headline", "标题"),
    "date": ("date", "published", "publish_time", "pub_date", "time", "日期", "发布时间"),
    "site": ("source", "site", "sitename", "media", "newspaper", "来源", "媒体"),
    "url": ("url", "link", "链接"),
    "author": ("author", "reporter", "byline", "作者", "记者"),
}
_MARKUP = re.compile(r"<(?:p|div|br|span|a|img|strong|em|h[1-6]|section|article)\b[^>]*>", re.IGNORECASE)
MAX_NOTES = 5  # records skipped inside one file: the first few are named, then a count


def read_records(raw: bytes, name: str) -> Document:
    from rag.corpus import decode_bytes

    text = decode_bytes(raw, name)
    rows, problems = (_csv_rows(text) if name.lower().endswith(".csv") else _jsonl_rows(text))
    parts, spans, pos = [], [], 0
    for number, row in rows:
        fields = _fields(row)
        body = _plain(fields["text"])
        if not body:
            problems.append(f"record {number}: no {'/'.join(FIELDS['text'][:3])} field with text")
            continue
        title = " ".join(fields["title"].split())
        block = f"{title}\n{body}" if title else body
        start = pos + (len(title) + 1 if title else 0)
        spans.append((number, fields, start, pos + len(block)))
        parts.append(block)
        pos += len(block) + 2
    notes = [f"{name}: {p}" for p in problems[:MAX_NOTES]]
    if len(problems) > MAX_NOTES:
        notes.append(f"{name}: {len(problems) - MAX_NOTES} more records skipped")
    if not spans:
        raise SkipFile("no record with article text" + (f" ({problems[0]})" if problems else ""))
    extracted = "\n\n".join(parts)
    articles = []
    for number, fields, start, end in spans:
        metadata = {"record": str(number), "date": iso_date(fields["date"]) or fields["date"],
                    "site": fields["site"], "url": fields["url"], "author": fields["author"]}
        title = fields["title"] or extracted[start:end].strip().split("\n")[0][:30]
        articles.append(article_of(name, len(articles), title, extracted, start, end, metadata))
    return Document(extracted, articles, notes)


def _jsonl_rows(text: str) -> tuple[list, list[str]]:
    rows, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: not JSON ({error.msg})")
            continue
        if isinstance(row, dict):
            rows.append((number, row))
        else:
            problems.append(f"line {number}: not a JSON object")
    return rows, problems


def _csv_rows(text: str) -> tuple[list, list[str]]:
    try:
        reader = csv.DictReader(io.StringIO(text))
        return [(number, row) for number, row in enumerate(reader, start=1)], []
    except csv.Error as error:
        raise SkipFile(f"not a readable CSV file ({error})") from None


def _fields(row: dict) -> dict[str, str]:
    lowered = {str(key).strip().lower(): value for key, value in row.items() if key is not None}
    out = {}
    for field, names in FIELDS.items():
        value = next((lowered[n] for n in names if lowered.get(n) not in (None, "")), "")
        out[field] = str(value).strip() if not isinstance(value, (dict, list)) else ""
    return out


def _plain(text: str) -> str:
    """The record's text without markup (CMS exports often hold HTML), whitespace tidied per line."""
    if _MARKUP.search(text):
        from trafilatura import html2txt

        text = html2txt(f"<html><body>{text}</body></html>") or ""
        text = re.sub(r"\s*\n\s*", "\n", text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
