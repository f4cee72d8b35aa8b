"""The small immutable types that flow through the pipeline: Chunk, and the Answer with its Spans.

A Chunk's text is the cleaned passage (broken sentences rejoined, captions dropped).
`pieces` maps it back to the original file: each piece is (chunk_pos, file_start, file_end),
meaning chunk.text[chunk_pos:chunk_pos + (file_end - file_start)] == file_text[file_start:file_end].
Scores are attached with dataclasses.replace, never by mutation.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Mapping, TypedDict


def content_id(*parts: str) -> str:
    """A stable id from the content that defines a thing (16 hex chars of sha1)."""
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]


UPLOADED = "uploaded"  # chunk metadata key marking a passage from the user's own upload (rag.uploads)


@dataclass(frozen=True)
class Chunk:
    text: str
    source: str  # file name relative to the corpus folder
    title: str
    start: int  # character offset of the passage in the original (decoded) file
    end: int
    pieces: tuple[tuple[int, int, int], ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    article: int = 0  # article number within the source file
    score: float | None = None
    id: str = ""
    # Position in the loaded index, set by retrieval (with the score): finds the chunk's sentence vectors.
    index_row: int = field(default=-1, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", content_id(self.source, str(self.start), self.text))
        if not self.pieces:
            object.__setattr__(self, "pieces", ((0, self.start, self.start + len(self.text)),))

    def to_file_offset(self, pos: int) -> int:
        """Map a position in `text` to a character offset in the original file."""
        best = self.pieces[0]
        for piece in self.pieces:
            if piece[0] <= pos:
                best = piece
            else:
                break
        chunk_pos, file_start, file_end = best
        return min(file_start + (pos - chunk_pos), file_end)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "text": self.text, "source": self.source, "title": self.title,
            "start": self.start, "end": self.end, "pieces": [list(p) for p in self.pieces],
            "metadata": dict(self.metadata), "article": self.article,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Chunk":
        return cls(
            text=data["text"], source=data["source"], title=data["title"],
            start=int(data["start"]), end=int(data["end"]),
            pieces=tuple(tuple(int(x) for x in p) for p in data.get("pieces", ())),
            metadata=dict(data.get("metadata", {})), article=int(data.get("article", 0)),
            id=data.get("id", ""),
        )


def is_uploaded(chunk: Chunk) -> bool:
    return bool((chunk.metadata or {}).get(UPLOADED))


class SpanDict(TypedDict):
    start: int
    end: int


class CitationDict(TypedDict):
    source: str  # the file's name in the corpus
    title: str
    text: str  # the passage exactly as it stands in the file: file_text[start:end]
    start: int
    end: int
    score: float | None


class AnswerDict(TypedDict):
    """What `Answer.to_dict` gives: the JSON of `ask --json` and of the app's /ask endpoint (declared here so
    the API page and gradio_client show its fields)."""
    question: str
    answer: str  # the answer sentence, or the reason for not answering when abstained
    short_answer: str  # "" when none is shown
    abstained: bool
    citations: list[CitationDict]  # the answer's own passage first
    latency_ms: float | None
    notes: list[str]
    span: SpanDict | None  # where `answer` stands in the first citation's file
    short_span: SpanDict | None


@dataclass(frozen=True)
class Span:
    """Character offsets [start, end) in an original file."""
    start: int
    end: int

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end}


@dataclass(frozen=True)
class Answer:
    """An extractive answer: a sentence copied from `chunk`, and maybe a short span inside it."""
    question: str
    text: str  # the answer sentence(s), verbatim from the chunk
    chunk: Chunk | None  # the chunk the answer came from (None when nothing was retrieved)
    span: Span | None = None  # where `text` stands in the original file (None for an abstention)
    short_answer: str = ""
    short_span: Span | None = None  # where `short_answer` stands in the original file
    abstained: bool = False
    score: float = 0.0
    citations: tuple[Chunk, ...] = ()  # retrieved passages, best first, the answer's own first
    notes: tuple[str, ...] = ()  # messages for the user (e.g. "question truncated")
    latency_ms: float | None = field(default=None, compare=False)  # time Pipeline.ask took

    def to_dict(self, original_text: Callable[[Chunk], str] | None = None) -> AnswerDict:
        """The JSON contract of `python -m rag ask --json` and the app's /ask endpoint. Each citation's text is
        `original_text(chunk)` (the passage exactly as in its file) when given, else the cleaned chunk text."""
        def citation(chunk: Chunk) -> CitationDict:
            return {"source": chunk.source, "title": chunk.title,
                    "text": original_text(chunk) if original_text else chunk.text,
                    "start": chunk.start, "end": chunk.end,
                    "score": round(float(chunk.score), 6) if chunk.score is not None else None}

        return {
            "question": self.question, "answer": self.text, "short_answer": self.short_answer,
            "abstained": self.abstained, "citations": [citation(c) for c in self.citations],
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2), "notes": list(self.notes),
            "span": self.span.to_dict() if self.span else None,
            "short_span": self.short_span.to_dict() if self.short_span else None,
        }
