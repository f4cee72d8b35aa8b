"""manifest.json: what an index folder records about itself, and the checks made against it.

The folder is self-describing: the manifest records the embedder and dimension, chunking settings, a hash
of every corpus file and the library versions. `read_manifest` refuses a missing, unreadable or
other-format manifest and names the fix (rag.provenance); `stale_files` compares the recorded corpus
hashes with the corpus as it is now.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from rag import __version__
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.provenance import rebuild_advice
from rag.report import FileChanges
from rag.store.layout import FORMAT, MANIFEST, recover_interrupted


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def corpus_hash(fingerprint: dict[str, str]) -> str:
    return text_hash(json.dumps(fingerprint, sort_keys=True))


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def versions() -> dict[str, str]:
    import bm25s
    import faiss

    return {"rag": __version__, "faiss": faiss.__version__, "bm25s": bm25s.__version__,
            "python": sys.version.split()[0]}


def read_manifest(index_dir: Path) -> dict:
    """The manifest of the index at index_dir (after undoing a build killed mid-swap), in this FORMAT."""
    index_dir = Path(index_dir)
    recover_interrupted(index_dir)
    path = index_dir / MANIFEST
    if not path.exists():
        raise IndexNotFound(f"no index at {index_dir} ({path} is missing): {rebuild_advice(index_dir)}")
    # Every suggested command rebuilds the index from the corpus it was built from (rag.provenance).
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexCorrupt(f"{path} is unreadable ({error}): {rebuild_advice(index_dir, unknown_corpus=True)}") from None
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"{path} is not a manifest (a JSON object): "
                           f"{rebuild_advice(index_dir, unknown_corpus=True)}")
    if manifest.get("format") != FORMAT:
        raise IndexMismatch(
            f"{path} has index format {manifest.get('format')!r}, this version reads {FORMAT}: "
            f"{rebuild_advice(index_dir, manifest, unknown_corpus=True)}"
        )
    return manifest


def corpus_changes(manifest: dict, current: dict[str, str]) -> FileChanges:
    """How the corpus files now (`current`, name → hash) compare with those the index was built from
    (files `rag add` put in are not the corpus's: `corpus_files` keeps the corpus's own fingerprint of a
    name they replaced, and a name only `add` put in is not "removed")."""
    built = manifest.get("corpus_files", {})
    built = built if isinstance(built, dict) else {}
    added = manifest.get("added", {})
    added = added if isinstance(added, dict) else {}
    return FileChanges(
        unchanged=tuple(sorted(name for name, digest in current.items() if built.get(name) == digest)),
        changed=tuple(sorted(name for name, digest in current.items() if name in built and built[name] != digest)),
        new=tuple(sorted(name for name in current if name not in built)),
        removed=tuple(sorted(name for name in built if name not in current and not added.get(name))))


def stale_files(manifest: dict, current: dict[str, str]) -> list[str]:
    """Corpus files that changed, appeared or vanished since the index was built."""
    changes = corpus_changes(manifest, current)
    return sorted(changes.changed + changes.new + changes.removed)
