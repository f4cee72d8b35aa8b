"""`rag add` for a Milvus index: delete the files' old chunks by source, insert the new ones, update the manifest.

Unlike a build this changes the live collection set in place (no alias switch): readers may see a file's
old chunks gone a moment before its new ones arrive.
"""
from __future__ import annotations

import time
from pathlib import Path

from rag.build import BuildReport, read_files_to_add
from rag.chunking import chunk_articles
from rag.embedding_cache import embed_with_cache, passage_text
from rag.lexical import tokenize_many
from rag.store.layout import sentence_texts
from rag.store.manifest import corpus_hash, now_iso


def add_to_collection(config, paths: list[Path], embedder=None, progress: bool = False) -> BuildReport:
    from rag.embedding import make_embedder
    from rag.store.milvus_index import MilvusIndex
    from rag.store.milvus import guard, insert_rows, insert_vocabulary, literal, milvus_lock, write_manifest

    began = time.perf_counter()
    new_articles, new_sources, warnings, new_files = read_files_to_add(paths)
    with milvus_lock(config):
        index = MilvusIndex.load(config)
        manifest = dict(index.manifest)
        embedder = embedder or make_embedder(manifest.get("embedder_spec", config.embedder), config.batch_size)
        index = MilvusIndex.load(config, embedder.name)  # checks the embedder
        config = config.with_(embedder=manifest.get("embedder_spec", config.embedder), **manifest.get("chunking", {}))
        chunks = chunk_articles(new_articles, config.chunk_size, config.chunk_overlap)
        cache: dict = {}
        vectors, embedded = embed_with_cache(embedder, [passage_text(c) for c in chunks], cache, config.batch_size)
        sentence_vectors, _ = embed_with_cache(embedder, sentence_texts(chunks), cache, config.batch_size)
        client, base, names = index.client, index.base, sorted(new_sources)

        def replace() -> None:
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
            for name, digest in new_files.items():
                if name not in fingerprint:
                    added[name] = digest
                fingerprint[name] = digest
            gone_articles = len({(row["source"], row["payload"].get("article", 0)) for row in gone})
            manifest.update(chunks=manifest["chunks"] - len(gone) + len(chunks), next_row=first + len(chunks),
                            articles=manifest.get("articles", 0) - gone_articles + len(new_articles),
                            sentences=manifest.get("sentences", 0) - gone_sentences + len(sentence_texts(chunks)),
                            corpus_files=fingerprint, added=added, corpus_hash=corpus_hash(fingerprint), built_at=now_iso())
            write_manifest(client, base, manifest)
            client.flush(base)

        guard(config.milvus_uri, f"add to collection {config.collection}", replace)
    return BuildReport(Path(index.folder), len(new_sources), len(new_articles), len(chunks), embedded,
                       time.perf_counter() - began, {}, tuple(warnings))
