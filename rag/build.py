"""Build or extend an index: corpus → articles → chunks → embeddings (cached) → FAISS + BM25 → disk.

A build over an existing index folder is a refresh: only new or changed files need the embedder (the
rest come from the embedding cache, i.e. the old index's vectors), removed files go, and the files
`rag add` put in are kept (re-read from the index's own sources.json) unless `keep_added=False`.
`ensure_index` is the load-or-build step of the CLI and the app: load the index, check it against the
corpus it records, and build it when it is missing or unusable; a stale index (corpus files changed since)
is answered from as built, with a note naming the files and the command that refreshes it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from rag.additions import read_files_to_add, sort_clashes
from rag.articles import parse_articles
from rag.chunking import chunk_articles
from rag.config import Config
from rag.corpus import corpus_fingerprint_of, load_corpus
from rag.embedding import Embedder, embedder_name, make_embedder
from rag.embedding_cache import cache_from_index
from rag.errors import CorpusError, IndexMismatch, IndexNotFound
from rag.provenance import corpus_to_check, rebuild_advice, rebuild_config, recorded_corpus, same_folder, shown, stale_note
from rag.report import BuildReport, FileChanges, count
from rag.store import SearchIndex, index_location, load_index
from rag.store.folder import Index
from rag.store.layout import MANIFEST, SOURCES, build_lock
from rag.store.manifest import corpus_changes, read_manifest
from rag.write import IndexContent, embed_and_write, store_lock

__all__ = ["BuildReport", "add_to_index", "build_index", "check_index", "ensure_index", "read_files_to_add"]


def _previous_corpus(index_dir: Path) -> Path | None:
    """The corpus an existing index at index_dir records (None: no readable manifest or no record)."""
    try:
        return recorded_corpus(json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8")), index_dir)
    except (OSError, ValueError):
        return None


def _previous_index(index_dir: Path) -> tuple[dict, dict[str, str]] | None:
    """(manifest, source texts) of the index folder a build is about to replace; None when there is none or
    they cannot be read (the build is then a fresh one)."""
    try:
        manifest = json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8"))
        sources = json.loads((Path(index_dir) / SOURCES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(sources, dict):
        return None
    return manifest, sources


def _keep_added(previous: tuple[dict, dict[str, str]], articles: list, sources: dict, notes: list
                ) -> tuple[list, dict, dict, dict]:
    """The files `rag add` put in the previous index, carried into the new one from its sources.json
    (they win over a corpus file of the same name, as they did in the index): (articles, sources,
    added fingerprints, added paths)."""
    manifest, old_sources = previous
    recorded = manifest.get("added") if isinstance(manifest.get("added"), dict) else {}
    paths = manifest.get("added_from") if isinstance(manifest.get("added_from"), dict) else {}
    added, added_from, found = {}, {}, []
    for name, digest in sorted(recorded.items()):
        text = old_sources.get(name)
        parsed = parse_articles(text, name) if isinstance(text, str) else []
        if not parsed:
            where = paths.get(name) or name
            notes.append(f"dropped {name}, added with `python -m rag add`: the old index does not hold its text; "
                         f"add it again with `python -m rag add {where}`")
            continue
        if name in sources and sources[name] != text:
            notes.append(f"kept {name} as added with `python -m rag add`, not the corpus's own {name} "
                         f"(pass --drop-added to index the corpus's)")
        found += parsed
        sources[name] = text
        added[name] = digest
        if name in paths:
            added_from[name] = paths[name]
    articles = [article for article in articles if article.source not in added] + found
    return articles, sources, added, added_from


def build_index(config: Config, embedder: Embedder | None = None, progress: bool = False,
                keep_added: bool = True) -> BuildReport:
    """Index every article under config.corpus_dir into config.index_dir (atomically).

    Without a corpus_dir, an existing index is rebuilt from the corpus it records, a new one from
    config.default_corpus. Over an existing index folder the build is a refresh (module docstring): the
    report says how the corpus files compare with it."""
    previous_corpus = _previous_corpus(config.index_dir)
    notes = []
    if config.corpus_dir is None:
        if previous_corpus is not None and not previous_corpus.is_dir():  # never rebuild an index from seeds/ by default
            raise CorpusError(
                f"{config.index_dir} was built from {shown(previous_corpus)}, which is not here: pass --corpus (or "
                f"RAG_CORPUS) with the folder to rebuild it from")
        config = config.with_(corpus_dir=previous_corpus if previous_corpus is not None else config.default_corpus)
    elif previous_corpus is not None and not same_folder(previous_corpus, config.corpus_dir):
        notes.append(f"{config.index_dir} was built from {shown(previous_corpus)}; it now indexes {config.corpus_dir}")
    began = time.perf_counter()
    stages: dict[str, float] = {}
    started = time.perf_counter()
    articles, sources, warnings = load_corpus(config.corpus_dir)
    stages["clean"] = time.perf_counter() - started
    embedder = embedder or make_embedder(config.embedder, config.batch_size)
    with store_lock(config):
        fingerprint = corpus_fingerprint_of(config.corpus_dir)
        previous = _previous_index(config.index_dir) if config.store == "faiss" else None
        changes, added, added_from = None, {}, {}
        if previous is not None:
            changes = corpus_changes(previous[0], fingerprint)
            if keep_added:
                articles, sources, added, added_from = _keep_added(previous, articles, sources, notes)
        started = time.perf_counter()
        chunks = chunk_articles(articles, config.chunk_size, config.chunk_overlap)
        stages["chunk"] = time.perf_counter() - started
        cache = cache_from_index(config.index_dir, embedder.name)  # for Milvus too: a FAISS folder's vectors are reused
        written = embed_and_write(config, embedder, IndexContent(chunks, sources, len(articles), fingerprint, added,
                                                                 added_from),
                                  cache=cache, progress=progress)
    stages.update(written.stage_seconds)
    return BuildReport(Path(index_location(config)), len(sources), len(articles), len(chunks), written.embedded,
                       time.perf_counter() - began, stages, tuple(notes + warnings), changes=changes,
                       kept_added=len(added))


def add_to_index(config: Config, paths: list[Path], embedder: Embedder | None = None, progress: bool = False,
                 replace: bool = False) -> BuildReport:
    """Add article files (or folders of them) without re-embedding the rest.

    Sources are named like the corpus's: a folder's files relative to it, a single file by its name. A new
    file whose name the index already holds with other text is refused (CorpusError naming the files)
    unless `replace`; the same file added again changes nothing.
    """
    if config.store == "milvus":
        from rag.store.milvus_add import add_to_collection

        return add_to_collection(config, paths, embedder, progress, replace)
    began = time.perf_counter()
    stages: dict[str, float] = {}
    manifest = read_manifest(config.index_dir)
    embedder = embedder or make_embedder(manifest.get("embedder_spec", config.embedder), config.batch_size)
    # The index keeps its embedder, chunking and the corpus it records (whatever --corpus / RAG_CORPUS say).
    recorded = recorded_corpus(manifest, config.index_dir)
    config = config.with_(embedder=manifest.get("embedder_spec", config.embedder), **manifest.get("chunking", {}),
                          corpus_dir=recorded if recorded is not None else config.default_corpus)
    given = read_files_to_add(paths)
    new_articles, new_sources, warnings, new_files = given.articles, given.sources, given.warnings, given.fingerprints
    with build_lock(config.index_dir):
        index = Index.load(config.index_dir, embedder.name)
        same, clashes = sort_clashes(new_sources, index.sources, str(config.index_dir), replace)
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
        added_from = dict(index.manifest.get("added_from", {}))
        for name, digest in new_files.items():
            if name in new_sources or name not in fingerprint:
                added[name] = digest
                if name in given.paths:
                    added_from[name] = given.paths[name]
        articles = len({(c.source, c.article) for c in kept + new_chunks})
        written = embed_and_write(config, embedder, IndexContent(kept + new_chunks, sources, articles, fingerprint, added,
                                                                 added_from),
                                  cache=cache, progress=progress)
    stages.update(written.stage_seconds)
    return BuildReport(config.index_dir, len(new_sources), len(new_articles), len(new_chunks), written.embedded,
                       time.perf_counter() - began, stages, tuple(warnings),
                       added=len(set(new_sources) - set(index.sources)), replaced=len(clashes),
                       kept=len(index.sources) - len(clashes))


def check_index(config: Config) -> tuple[SearchIndex, str]:
    """Load the index config names and check it against the corpus folder it records (rag.provenance):
    (index, a note about the load, e.g. that the corpus folder is gone so the index is served as built).

    IndexNotFound or IndexMismatch (missing, other embedder or format) can be cured by a build; a
    CorpusMismatch (config.corpus_dir is not the index's corpus) is never built over. Corpus files changed,
    new or removed since the build do not stop it: the note names them and the command that refreshes.
    """
    try:
        index = load_index(config, embedder_name(config.embedder))
    except IndexNotFound:
        if config.store != "faiss":
            raise
        # The command builds the corpus the user named (else one that runs from here), with the embedder asked for.
        raise IndexNotFound(f"no index at {config.index_dir} ({config.index_dir / 'manifest.json'} is missing): {rebuild_advice(config.index_dir, corpus=config.corpus_dir, embedder=config.embedder)}") from None
    corpus, note = corpus_to_check(index.manifest, config)  # CorpusMismatch is never rebuilt over
    if corpus is not None:
        changes = corpus_changes(index.manifest, corpus_fingerprint_of(corpus))
        if changes.any:  # answered from as built: one edited article must not stop every question
            note = stale_note(config, index.manifest, corpus, changes.named())
    return index, note


def ensure_index(config: Config, progress: Callable[[str], None] | None = None
                 ) -> tuple[SearchIndex, Embedder | None, str]:
    """check_index, and when the index is missing or unusable (another embedder or format), build it from the
    corpus it was built from (a stale one is answered from as built: check_index's note says so).

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
