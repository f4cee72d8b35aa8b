"""`rag add` for a Milvus index: delete the files' old chunks by source, insert the new ones, update the manifest.

The name-clash rule is the index folder's (rag.additions.sort_clashes): a file named like a source the
collection holds, with other text, is refused unless `replace`; the same file again changes nothing.
Unlike a build this changes the live collection set in place (no alias switch): readers may see a file's
old chunks gone a moment before its new ones arrive.
"""
from __future__ import annotations

import time
from pathlib import Path

from rag.additions import read_files_to_add, sort_clashes
from rag.chunking import chunk_articles
from rag.embedding_cache import embed_with_cache, passage_text
from rag.lexical import tokenize_many
from rag.store.layout import sentence_texts
from rag.report import BuildReport
from rag.store.manifest import corpus_hash, now_iso


def _held_texts(client, base: str, names: list[str]) -> dict[str, str]:
    """The texts the collection set holds for these source names (absent names left out)."""
    from rag.store.milvus import literal

    parts = client.query(f"{base}_text", filter=f"source in {literal(names)}", output_fields=["source", "part", "text"])
    texts: dict[str, list] = {}
    for row in parts:
        texts.setdefault(row["source"], []).append((row["part"], row["text"]))
    return {name: "".join(text for _, text in sorted(rows)) for name, rows in texts.items()}


def add_to_collection(config, paths: list[Path], embedder=None, progress: bool = False,
                      replace: bool = False) -> BuildReport:
    from rag.embedding import make_embedder
    from rag.store.milvus_index import MilvusIndex
    from rag.store.milvus import guard, insert_rows, insert_vocabulary, literal, milvus_lock, write_manifest

    began = time.perf_counter()
    given = read_files_to_add(paths)
    new_articles, new_sources, warnings, new_files = given.articles, given.sources, given.warnings, given.fingerprints
    with milvus_lock(config):
        index = MilvusIndex.load(config)
        manifest = dict(index.manifest)
        embedder = embedder or make_embedder(manifest.get("embedder_spec", config.embedder), config.batch_size)
        index = MilvusIndex.load(config, embedder.name)  # checks the embedder
        held = guard(config.milvus_uri, f"read collection {config.collection}",
                     lambda: _held_texts(index.client, index.base, sorted(new_sources)))
        same, clashes = sort_clashes(new_sources, held, f"{config.collection} at {config.milvus_uri}", replace)
        new_articles = [article for article in new_articles if article.source not in same]
        new_sources = {name: text for name, text in new_sources.items() if name not in same}
        config = config.with_(embedder=manifest.get("embedder_spec", config.embedder), **manifest.get("chunking", {}))
        chunks = chunk_articles(new_articles, config.chunk_size, config.chunk_overlap)
        cache: dict = {}
        vectors, embedded = embed_with_cache(embedder, [passage_text(c) for c in chunks], cache, config.batch_size)
        sentence_vectors, _ = embed_with_cache(embedder, sentence_texts(chunks), cache, config.batch_size)
        client, base, names = index.client, index.base, sorted(new_sources)
        holds = len(set(manifest.get("corpus_files", {})) | set(manifest.get("added", {})))  # sources before

        def replace_sources() -> None:
            where = f"source in {literal(names)}"
            gone = client.query(base, filter=where, output_fields=["source", "payload"])
            gone_sentences = len(client.query(f"{base}_sent", filter=where, output_fields=["sid"]))
            for suffix in ("", "_sent", "_text"):
                client.delete(f"{base}{suffix}", filter=where)
            first = int(manifest.get("next_row", manifest["chunks"]))
            insert_rows(client, base, chunks, range(first, first + len(chunks)), new_sources, vectors, sentence_vectors)
            insert_vocabulary(client, base, (t for tokens in tokenize_many([passage_text(c) for c in chunks]) for t in tokens))
            fingerprint = dict(manifest.get("corpus_files", {}))
            added = dict(manifest.get("added", {}))
            added_from = dict(manifest.get("added_from", {}))
            for name, digest in new_files.items():
                if name in new_sources or name not in fingerprint:
                    added[name] = digest
                    if name in given.paths:
                        added_from[name] = given.paths[name]
            gone_articles = len({(row["source"], row["payload"].get("article", 0)) for row in gone})
            manifest.update(chunks=manifest["chunks"] - len(gone) + len(chunks), next_row=first + len(chunks),
                            articles=manifest.get("articles", 0) - gone_articles + len(new_articles),
                            sentences=manifest.get("sentences", 0) - gone_sentences + len(sentence_texts(chunks)),
                            corpus_files=fingerprint, added=added, added_from=added_from, corpus_hash=corpus_hash(fingerprint), built_at=now_iso())
            write_manifest(client, base, manifest)
            client.flush(base)

        if new_sources:
            guard(config.milvus_uri, f"add to collection {config.collection}", replace_sources)
    return BuildReport(Path(index.folder), len(new_sources), len(new_articles), len(chunks), embedded,
                       time.perf_counter() - began, {}, tuple(warnings), added=len(set(new_sources) - set(held)),
                       replaced=len(clashes), kept=holds - len(clashes))
