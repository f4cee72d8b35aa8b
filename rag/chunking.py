"""Sentence-aware chunks: an article's cleaned text cut at sentence ends, never inside a sentence."""
from __future__ import annotations

import re
from typing import Iterable, Iterator

from rag.articles import Article
from rag.types import Chunk

# A sentence ends at 。！？!?；;… (runs of them), with closing quotes/brackets kept, or at a line end.
_SENTENCE = re.compile(r"[^。！？!?；;…\n]*(?:[。！？!?；;…]+[”’」』）)】》\"']*|\n|$)")
# An answer sentence runs on over semicolons: in Chinese ；joins the clauses of one sentence (a list of
# uses, a description of a flower), and answers often span them (CMRC sentence hit +0.9 points).
# The index stores a vector per answer sentence: changing this pattern needs a new rag.store.layout.FORMAT.
_FULL_SENTENCE = re.compile(r"[^。！？!?…\n]*(?:[。！？!?…]+[”’」』）)】》\"']*|\n|$)")
_CLAUSE = re.compile(r"[^，,、：:]*(?:[，,、：:]|$)")


def split_sentences(text: str, at_semicolons: bool = True) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text; whitespace-only pieces dropped.

    Chunking cuts at semicolons too (finer packing); answers use whole sentences (at_semicolons=False).
    """
    spans = []
    for match in (_SENTENCE if at_semicolons else _FULL_SENTENCE).finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """A sentence far over the chunk size is cut at clause marks (，、：) so the embedder sees it all."""
    if end - start <= limit:
        return [(start, end)]
    parts, part_start = [], start
    for match in _CLAUSE.finditer(text, start, end):
        if match.end() - part_start >= limit // 2 or match.end() >= end:
            parts.append((part_start, match.end()))
            part_start = match.end()
        if match.end() >= end:
            break
    return [p for p in parts if p[1] > p[0]] or [(start, end)]


def answer_sentences(text: str) -> list[tuple[int, int]]:
    """The sentences an answer is chosen from (and the index stores a vector for), in order."""
    return split_sentences(text, at_semicolons=False)


def article_stream(article: Article) -> tuple[str, list[tuple[int, int, int]]]:
    """The article's cleaned text (paragraphs joined by newlines) and its pieces (pos, file_start, file_end)."""
    parts: list[str] = []
    pieces: list[tuple[int, int, int]] = []
    pos = 0
    for number, paragraph in enumerate(article.paragraphs):
        if number:
            parts.append("\n")
            pos += 1
        for text, file_start, file_end in paragraph:
            parts.append(text)
            pieces.append((pos, file_start, file_end))
            pos += len(text)
    return "".join(parts), pieces


def _pieces_for(pieces: list[tuple[int, int, int]], start: int, end: int) -> tuple[tuple[int, int, int], ...]:
    """The file ranges covering stream[start:end], with positions relative to start."""
    out = []
    for pos, file_start, file_end in pieces:
        piece_end = pos + (file_end - file_start)
        lo, hi = max(pos, start), min(piece_end, end)
        if lo < hi:
            out.append((lo - start, file_start + (lo - pos), file_start + (hi - pos)))
    return tuple(out)


def chunk_article(article: Article, chunk_size: int, overlap: int) -> Iterator[Chunk]:
    """Pack whole sentences into chunks of about chunk_size characters; `overlap` sentences are repeated."""
    stream, pieces = article_stream(article)
    metadata = dict(article.metadata)
    for start, end in pack_sentences(stream, chunk_size, overlap):
        chunk_pieces = _pieces_for(pieces, start, end)
        yield Chunk(
            text=stream[start:end], source=article.source, title=article.title,
            start=chunk_pieces[0][1], end=chunk_pieces[-1][2], pieces=chunk_pieces,
            metadata=metadata, article=article.number,
        )


def pack_sentences(text: str, chunk_size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of each chunk of text: whole sentences packed to about chunk_size characters, `overlap`
    sentences repeated. The reader's training cuts its passages with this too, so it reads what it will read."""
    sentences = [part for s, e in split_sentences(text) for part in _split_long(text, s, e, 2 * chunk_size)]
    out, index = [], 0
    while index < len(sentences):
        last = index
        while last + 1 < len(sentences) and sentences[last + 1][1] - sentences[index][0] <= chunk_size:
            last += 1
        out.append((sentences[index][0], sentences[last][1]))
        if last + 1 >= len(sentences):
            break
        index = max(index + 1, last + 1 - overlap)
    return out


def chunk_articles(articles: Iterable[Article], chunk_size: int, overlap: int) -> list[Chunk]:
    return [chunk for article in articles for chunk in chunk_article(article, chunk_size, overlap)]
