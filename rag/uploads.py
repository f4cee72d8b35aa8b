"""A chat session's own articles: files a user adds in the app, read by the corpus readers (rag.readers),
chunked and embedded with the build's code (rag.chunking, rag.write.embed_chunks) into a small in-memory
index (rag.store.memory) that `Pipeline.ask(..., extra=uploads.index)` searches together with the shared one.

They live in that browser session only (the app keeps `Uploads` in a gr.State): never written into the shared
index, gone when the session ends, invisible to other visitors. With Config.persist_uploads (an operator's
choice, off by default) they are added to the shared index instead, for everyone, as `rag add` would.

Limits (Config): upload_max_files files a session, upload_max_mb MB a file, and MAX_SESSION_CHARS characters
of extracted text a session (embedding runs on the shared queue: ~100,000 characters take about a minute on
2 cores). A file over a limit or unreadable gets its reason and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from rag.chunking import chunk_articles
from rag.errors import RagError
from rag.readers import SkipFile, read_document
from rag.store.memory import memory_index
from rag.types import UPLOADED, Chunk

MAX_SESSION_CHARS = 100_000  # extracted characters one session may add (≈ 400 passages)


@dataclass(frozen=True)
class Uploads:
    """What one session has added; each upload makes a new value (the old one stays valid)."""

    chunks: tuple[Chunk, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    cache: Mapping[str, Any] = field(default_factory=dict)  # embedding cache: re-indexing embeds only new text
    index: Any = None  # rag.store.folder.Index in memory, None while nothing is added

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.sources)

    @property
    def characters(self) -> int:
        return sum(len(text) for text in self.sources.values())


@dataclass(frozen=True)
class FileResult:
    name: str
    added: bool
    message: str  # what was indexed, or why not


def add_files(pipeline: Any, uploads: Uploads | None, paths: Sequence[Path | str],
              progress: Callable[[float, str], None] | None = None) -> tuple[Uploads, list[FileResult]]:
    """Read, check and index `paths` (their file names name them) into this session's uploads.

    Returns the new Uploads (the same object when nothing was added) and one FileResult per file."""
    config = pipeline.config
    uploads = uploads or Uploads()
    say = progress or (lambda fraction, message: None)
    results: list[FileResult] = []
    sources = dict(uploads.sources)
    new_chunks: list[Chunk] = []
    limit_bytes = config.upload_max_mb * 1_000_000
    chunking = {**config.chunking(), **pipeline.index.manifest.get("chunking", {})}
    for number, path in enumerate(map(Path, paths)):
        name = path.name
        say(number / max(len(paths), 1) * 0.3, f"reading {name}")
        problem = _check_limits(config, path, name, sources, limit_bytes)
        if problem:
            results.append(FileResult(name, False, problem))
            continue
        try:
            document = read_document(path, name)
        except SkipFile as error:
            results.append(FileResult(name, False, str(error)))
            continue
        except RagError as error:
            results.append(FileResult(name, False, str(error).removeprefix(f"{name}: ")))
            continue
        except Exception as error:  # a reader library failing on a damaged file must not end the session
            results.append(FileResult(name, False, f"could not be read ({type(error).__name__}: {str(error)[:120]})"))
            continue
        if not document.articles:
            results.append(FileResult(name, False, "no article text found"))
            continue
        total = sum(len(text) for key, text in sources.items() if key != name) + len(document.text)
        if total > MAX_SESSION_CHARS:
            results.append(FileResult(name, False, f"its {len(document.text):,} characters of text would take this "
                                                   f"session past {MAX_SESSION_CHARS:,} characters of uploads"))
            continue
        chunks = chunk_articles(document.articles, chunking["chunk_size"], chunking["chunk_overlap"])
        new_chunks = [c for c in new_chunks if c.source != name] + [
            replace(c, metadata={**c.metadata, UPLOADED: "1"}) for c in chunks]
        sources[name] = document.text
        notes = "".join(f"; {note.removeprefix(name + ': ')}" for note in document.notes)
        results.append(FileResult(name, True, f"{len(document.articles)} article(s), {len(chunks)} passage(s){notes}"))
    if not new_chunks:
        return uploads, results
    if config.persist_uploads:
        return uploads, _persist(pipeline, [p for p in map(Path, paths) if p.name in {c.source for c in new_chunks}],
                                 results, say)
    from rag.write import embed_chunks

    added = {c.source for c in new_chunks}
    chunks = [c for c in uploads.chunks if c.source not in added] + new_chunks
    say(0.4, f"embedding {len(new_chunks)} passage(s)")
    cache = dict(uploads.cache)
    embedded = embed_chunks(config, pipeline.embedder, chunks, cache=cache)
    manifest = {"embedder": pipeline.embedder.name, "chunks": len(chunks), "articles": len({(c.source, c.article) for c in chunks})}
    index = memory_index(chunks, sources, embedded, manifest)
    say(1.0, "ready")
    return Uploads(tuple(chunks), sources, cache, index), results


def _check_limits(config, path: Path, name: str, sources: Mapping[str, str], limit_bytes: int) -> str:
    if config.upload_max_files == 0:
        return "adding files is turned off on this server"
    try:
        size = path.stat().st_size
    except OSError as error:
        return f"could not be read ({error.strerror})"
    if size > limit_bytes:
        return f"{size / 1e6:.1f} MB is over the limit of {config.upload_max_mb} MB a file"
    if size == 0:
        return "empty file"
    if name not in sources and len(sources) >= config.upload_max_files:
        return (f"this session already holds {len(sources)} files, the limit of {config.upload_max_files}; "
                f"reload the page to start a new session")
    return ""


def _persist(pipeline: Any, paths: list[Path], results: list[FileResult], say) -> list[FileResult]:
    """Config.persist_uploads: add the readable files to the shared index, for everyone, as `rag add` does."""
    from rag.build import add_to_index
    from rag.store import load_index

    say(0.4, "adding to the shared index")
    try:
        add_to_index(pipeline.config, paths, embedder=pipeline.embedder)
    except RagError as error:
        return [replace(r, added=False, message=str(error)) if r.added else r for r in results]
    pipeline.index = load_index(pipeline.config, pipeline.embedder.name)
    return [replace(r, message=r.message + "; added to the shared index, for everyone") if r.added else r
            for r in results]
