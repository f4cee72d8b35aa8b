"""The two small immutable types that flow through the pipeline: Chunk and Answer.

A Chunk's text is the cleaned passage (broken sentences rejoined, captions dropped).
`pieces` maps it back to the original file: each piece is (chunk_pos, file_start, file_end),
meaning chunk.text[chunk_pos:chunk_pos + (file_end - file_start)] == file_text[file_start:file_end].
Scores are attached with dataclasses.replace, never by mutation.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping


def content_id(*parts: str) -> str:
    """A stable id from the content that defines a thing (16 hex chars of sha1)."""
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]


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


@dataclass(frozen=True)
class Answer:
    """An extractive answer: a sentence copied from `chunk`, and maybe a short span inside it."""
    question: str
    text: str  # the answer sentence(s), verbatim from the chunk
    chunk: Chunk | None  # the chunk the answer came from (None when nothing was retrieved)
    start: int = -1  # offsets of `text` in the original file
    end: int = -1
    short_answer: str = ""
    short_start: int = -1  # offsets of `short_answer` in the original file
    short_end: int = -1
    abstained: bool = False
    score: float = 0.0
    citations: tuple[Chunk, ...] = ()  # retrieved passages, best first, the answer's own first
    notes: tuple[str, ...] = ()  # messages for the user (e.g. "question truncated")
