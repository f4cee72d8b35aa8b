"""Build or extend an index: corpus → articles → chunks → embeddings (cached) → FAISS + BM25 → disk.

`ensure_index` is the load-or-build step of the CLI and the app: load the index, check it against the
corpus it records, and (re)build it when it is missing or stale.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rag.chunking import chunk_articles
from rag.config import Config
from rag.corpus import corpus_fingerprint_of, file_fingerprint, load_corpus
from rag.embedding import Embedder, embedder_name, make_embedder
from rag.embedding_cache import cache_from_index
from rag.errors import CorpusError, IndexMismatch, IndexNotFound
from rag.provenance import corpus_to_check, rebuild_advice, rebuild_config, recorded_corpus, same_folder, shown
from rag.store import SearchIndex, index_location, load_index
from rag.store.folder import Index
from rag.store.layout import MANIFEST, build_lock
from rag.store.manifest import read_manifest, stale_files
from rag.write import IndexContent, embed_and_write, store_lock


@dataclass(frozen=True)
class BuildReport:
    index_dir: Path
    files: int
    articles: int
    chunks: int
    embedded: int  # chunks that needed the embedder (the rest came from the cache)
    seconds: float
    stage_seconds: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # `add` only: sources new to the index, sources replaced (--replace), sources of the index left as they were.
    added: int = 0
    replaced: int = 0
    kept: int = 0

    def summary(self) -> str:
        return (f"indexed {self.files} files → {self.articles} articles → {self.chunks} chunks "
                f"({self.embedded} embedded, {self.chunks - self.embedded} from cache) in {self.seconds:.1f} s → {self.index_dir}"
                + self.not_indexed())

    def add_summary(self) -> str:
        return (f"added {self.added} sources, replaced {self.replaced}, kept {self.kept} → {self.articles} new articles "
                f"→ {self.chunks} new chunks ({self.embedded} embedded) in {self.seconds:.1f} s → {self.index_dir}"
                + self.not_indexed())

    @property
    def skipped(self) -> list[str]:
        """'name: reason' for every file that was not indexed."""
        return sorted(w.removeprefix("skipped ") for w in self.warnings if w.startswith("skipped "))

    @property
    def notes(self) -> list[str]:
        """The other warnings (e.g. a file read by its content, records skipped inside a file)."""
        return [w for w in self.warnings if not w.startswith("skipped ")]

    def not_indexed(self) -> str:
        """The summary's list of the files not indexed, each with its reason ("" when every file was)."""
        if not self.skipped:
            return ""
        return f"\nnot indexed: {len(self.skipped)} file(s)\n" + "\n".join(f"  {line}" for line in self.skipped)


def _previous_corpus(index_dir: Path) -> Path | None:
    """The corpus an existing index at index_dir records (None: no readable manifest or no record)."""
    try:
        return recorded_corpus(json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8")), index_dir)
    except (OSError, ValueError):
        return None


def build_index(config: Config, embedder: Embedder | None = None, progress: bool = False) -> BuildReport:
    """Index every article under config.corpus_dir into config.index_dir (atomically).

    Without a corpus_dir, an existing index is rebuilt from the corpus it records, a new one from
    config.default_corpus."""
    previous = _previous_corpus(config.index_dir)
    notes = []
    if config.corpus_dir is None:
        if previous is not None and not previous.is_dir():  # never rebuild an index from seeds/ by default
            raise CorpusError(
                f"{config.index_dir} was built from {shown(previous)}, which is not here: pass --corpus (or "
                f"RAG_CORPUS) with the folder to rebuild it from")
        config = config.with_(corpus_dir=previous if previous is not None else config.default_corpus)
    elif previous is not None and not same_folder(previous, config.corpus_dir):
        notes.append(f"{config.index_dir} was built from {shown(previous)}; it now indexes {config.corpus_dir}")
    began = time.perf_counter()
    stages: dict[str, float] = {}
    started = time.perf_counter()
    articles, sources, warnings = load_corpus(config.corpus_dir)
    stages["clean"] = time.perf_counter() - started
    started = time.perf_counter()
    chunks = chunk_articles(articles, config.chunk_size, config.chunk_overlap)
    stages["chunk"] = time.perf_counter() - started
    embedder = embedder or make_embedder(config.embedder, config.batch_size)
    with store_lock(config):
        cache = cache_from_index(config.index_dir, embedder.name)  # for Milvus too: a FAISS folder's vectors are reused
        fingerprint = corpus_fingerprint_of(config.corpus_dir)
        written = embed_and_write(config, embedder, IndexContent(chunks, sources, len(articles), fingerprint),
                                  cache=cache, progress=progress)
    stages.update(written.stage_seconds)
    return BuildReport(Path(index_location(config)), len(sources), len(articles), len(chunks), written.embedded,
                       time.perf_counter() - began, stages, tuple(notes + warnings))


def read_files_to_add(paths) -> tuple[list, dict, list, dict]:
    """Articles, source texts, skip warnings and fingerprints of the files `add` was given (a folder's files
    named relative to it, a single file by its name); CorpusError when none holds a readable article."""
    new_articles, new_sources, warnings, new_files = [], {}, [], {}
    for path in map(Path, paths):
        found, texts, skipped = load_corpus(path) if path.is_dir() else load_corpus(path.parent, files=[path])
        new_articles += found
        new_sources.update(texts)
        warnings += skipped
        new_files.update(corpus_fingerprint_of(path) if path.is_dir() else file_fingerprint([path]))
    if not new_sources:
        raise CorpusError(f"nothing to add: no readable article in {', '.join(map(str, paths))}"
                          + (f" ({'; '.join(warnings)})" if warnings else ""))
    return new_articles, new_sources, warnings, new_files


def add_to_index(config: Config, paths: list[Path], embedder: Embedder | None = None, progress: bool = False,
                 replace: bool = False) -> BuildReport:
    """Add article files (or folders of them) without re-embedding the rest.

    Sources are named like the corpus's: a folder's files relative to it, a single file by its name. A new
    file whose name the index already holds with other text is refused (CorpusError naming the files)
    unless `replace`; the same file added again changes nothing.
    """
    if config.store == "milvus":
        from rag.store.milvus_add import add_to_collection

        return add_to_collection(config, paths, embedder, progress)
    began = time.perf_counter()
    stages: dict[str, float] = {}
    manifest = read_manifest(config.index_dir)
    embedder = embedder or make_embedder(manifest.get("embedder_spec", config.embedder), config.batch_size)
    # The index keeps its embedder, chunking and the corpus it records (whatever --corpus / RAG_CORPUS say).
    recorded = recorded_corpus(manifest, config.index_dir)
    config = config.with_(embedder=manifest.get("embedder_spec", config.embedder), **manifest.get("chunking", {}),
                          corpus_dir=recorded if recorded is not None else config.default_corpus)
    new_articles, new_sources, warnings, new_files = read_files_to_add(paths)
    with build_lock(config.index_dir):
        index = Index.load(config.index_dir, embedder.name)
        same = {name for name, text in new_sources.items() if index.sources.get(name) == text}
        clashes = sorted(name for name in new_sources if name in index.sources and name not in same)
        if clashes and not replace:
            shown_names = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
            raise CorpusError(
                f"{len(clashes)} file(s) to add have the name of a source {config.index_dir} already holds, with "
                f"other text: {shown_names}; nothing was changed. Add them with --replace to replace those "
                f"sources, or rename the new files")
        new_articles = [article for article in new_articles if article.source not in same]
        new_sources = {name: text for name, text in new_sources.items() if name not in same}
        cache = cache_from_index(config.index_dir, embedder.name)
        kept = [chunk for chunk in index.chunks if chunk.source not in new_sources]
        new_chunks = chunk_articles(new_articles, config.chunk_size, config.chunk_overlap)
        sources = {**index.sources, **new_sources}
        # corpus_files stays the corpus folder's own fingerprint (what staleness is checked against);
        # `added` holds what `add` put in, including sources it replaced.
        fingerprint = dict(index.manifest.get("corpus_files", {}))
        added = dict(index.manifest.get("added", {}))
        for name, digest in new_files.items():
            if name in new_sources or name not in fingerprint:
                added[name] = digest
        articles = len({(c.source, c.article) for c in kept + new_chunks})
        written = embed_and_write(config, embedder, IndexContent(kept + new_chunks, sources, articles, fingerprint, added),
                                  cache=cache, progress=progress)
    stages.update(written.stage_seconds)
    return BuildReport(config.index_dir, len(new_sources), len(new_articles), len(new_chunks), written.embedded,
                       time.perf_counter() - began, stages, tuple(warnings),
                       added=len(set(new_sources) - set(index.sources)), replaced=len(clashes),
                       kept=len(index.sources) - len(clashes))


def check_index(config: Config) -> tuple[SearchIndex, str]:
    """Load the index config names and check it against the corpus folder it records (rag.provenance):
    (index, a note about the load, e.g. that the corpus folder is gone so the index is served as built).

    IndexNotFound or IndexMismatch (missing, other embedder or format, stale) can be cured by a build;
    a CorpusMismatch (config.corpus_dir is not the index's corpus) is never built over.
    """
    try:
        index = load_index(config, embedder_name(config.embedder))
    except IndexNotFound:
        if config.corpus_dir is None or config.store != "faiss":
            raise
        # The command builds the corpus the user named, with the embedder asked for.
        raise IndexNotFound(f"no index at {config.index_dir} ({config.index_dir / 'manifest.json'} is missing): {rebuild_advice(config.index_dir, corpus=config.corpus_dir, embedder=config.embedder)}") from None
    corpus, note = corpus_to_check(index.manifest, config)  # CorpusMismatch is never rebuilt over
    if corpus is not None:
        stale = stale_files(index.manifest, corpus_fingerprint_of(corpus))
        if stale:
            more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
            raise IndexMismatch(
                f"{config.index_dir} is stale: {', '.join(stale[:3])}{more} changed in {shown(corpus)} since it "
                f"was built; {rebuild_advice(config.index_dir, index.manifest, corpus)}"
            )
    return index, note


def ensure_index(config: Config, progress: Callable[[str], None] | None = None
                 ) -> tuple[SearchIndex, Embedder | None, str]:
    """check_index, and when the index is missing or stale, (re)build it from the corpus it was built from.

    Returns (index, embedder, note): the embedder a build used (None when the index was loaded as it was)
    and check_index's note ("" after a build). What is done is said to `progress`.
    """
    try:
        index, note = check_index(config)
    except (IndexNotFound, IndexMismatch) as error:
        say = progress or (lambda message: None)
        say(f"{error} — building the index now…")
        embedder = make_embedder(config.embedder, config.batch_size)
        report = build_index(rebuild_config(config), embedder=embedder)
        say(report.summary())
        return load_index(config, embedder.name), embedder, ""
    return index, None, note
