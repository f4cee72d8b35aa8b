"""What an index was built from: how its manifest names the corpus folder, how that folder is found
again, which folder a loaded index is checked against, and the command that rebuilds the index from it.

The manifest's `corpus_path` is the corpus folder as resolved at build time, written relative to the
index folder when both lie in the index's parent folder (a project with `index/` and `seeds/` side by
side still finds its corpus after a clone or a copy), else as an absolute path. Manifests written before
`corpus_path` existed hold `corpus_dir`, the folder as typed on the command line; it is looked for next
to the index first, then relative to the working folder.
"""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from rag.config import DEFAULT_EMBEDDER, Config, ConfigError
from rag.errors import CorpusMismatch

# A placeholder in suggested commands when the corpus cannot be known (an unreadable manifest): running the
# command as printed fails harmlessly ("corpus folder CORPUS_DIR does not exist").
UNKNOWN_CORPUS = "CORPUS_DIR"


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def corpus_record(corpus_dir: Path, index_dir: Path) -> str:
    """How a new manifest names its corpus (see the module docstring)."""
    corpus = _absolute(corpus_dir).resolve()
    index = _absolute(index_dir).resolve()
    if corpus == index.parent or index.parent in corpus.parents:
        return Path(os.path.relpath(corpus, index)).as_posix()
    return corpus.as_posix()


def recorded_corpus(manifest: dict, index_dir: Path) -> Path | None:
    """The folder the index was built from, as an absolute path (it may no longer exist); None when the
    manifest does not say."""
    if not isinstance(manifest, dict):
        return None
    index = _absolute(index_dir).resolve()
    path = manifest.get("corpus_path")
    if isinstance(path, str) and path:
        return Path(os.path.normpath(index / path))
    old = manifest.get("corpus_dir")  # an older manifest: the folder as typed, relative to the build's cwd
    if isinstance(old, str) and old:
        candidates = [Path(os.path.normpath(index.parent / old)), _absolute(Path(old))]
        return next((c for c in candidates if c.is_dir()), candidates[0])
    return None


def same_folder(a: Path, b: Path) -> bool:
    try:
        return _absolute(a).resolve() == _absolute(b).resolve()
    except OSError:
        return False


def shown(path: Path) -> str:
    """A path for messages and commands: relative to the working folder when inside it, else absolute."""
    absolute = _absolute(path)
    try:
        return absolute.relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return absolute.as_posix()


def rebuild_command(index_dir: Path, manifest: dict | None = None, corpus: Path | None = None,
                    embedder: str | None = None, unknown_corpus: bool = False) -> str:
    """`python -m rag build …` that rebuilds index_dir from `corpus` (default: the one the manifest records)
    with the manifest's embedder and chunking, every argument shell-quoted."""
    manifest = manifest if isinstance(manifest, dict) else {}
    corpus = corpus if corpus is not None else recorded_corpus(manifest, index_dir)
    parts = ["python", "-m", "rag", "build"]
    if corpus is not None:
        parts += ["--corpus", shown(corpus)]
    elif unknown_corpus:
        parts += ["--corpus", UNKNOWN_CORPUS]
    parts += ["--index", str(index_dir)]
    spec = embedder or manifest.get("embedder_spec")
    if isinstance(spec, str) and spec and spec != DEFAULT_EMBEDDER:
        parts += ["--embedder", spec]
    chunking = manifest.get("chunking")
    if isinstance(chunking, dict):
        for key, flag in (("chunk_size", "--chunk-size"), ("chunk_overlap", "--chunk-overlap")):
            value = chunking.get(key)
            if isinstance(value, int) and value != getattr(Config, key):
                parts += [flag, str(value)]
    return " ".join(shlex.quote(part) for part in parts)


def rebuild_advice(index_dir: Path, manifest: dict | None = None, corpus: Path | None = None,
                   embedder: str | None = None, unknown_corpus: bool = False) -> str:
    """"run `<rebuild_command>`", plus a reminder of the files `rag add` put in (a rebuild drops them)."""
    advice = f"run `{rebuild_command(index_dir, manifest, corpus, embedder, unknown_corpus)}`"
    if unknown_corpus and corpus is None and recorded_corpus(manifest or {}, index_dir) is None:
        advice += f" with {UNKNOWN_CORPUS} the folder of articles it was built from"
    added = manifest.get("added") if isinstance(manifest, dict) else None
    if isinstance(added, dict) and added:
        names = sorted(added)
        advice += (f", then `python -m rag add` again the {len(names)} file(s) it added or replaced after the build "
                   f"({', '.join(names[:3])}{' …' if len(names) > 3 else ''})")
    return advice


def corpus_to_check(manifest: dict, config: Config) -> tuple[Path | None, str]:
    """The folder a loaded index is checked against for staleness, and a one-line note when there is none.

    That is the folder the index records it was built from. An explicitly given corpus (--corpus,
    RAG_CORPUS) must be that folder (else CorpusMismatch), unless the recorded folder is gone (a moved or
    copied project): then the given one is checked. With neither folder present the index is served as
    built, and the note says so.
    """
    recorded = recorded_corpus(manifest, config.index_dir)
    given = config.corpus_dir
    if recorded is not None and recorded.is_dir():
        if given is not None and not same_folder(given, recorded):
            raise CorpusMismatch(
                f"{config.index_dir} was built from {shown(recorded)}, not {given}: leave out --corpus "
                f"(and RAG_CORPUS) to use this index as built, or pass --index the index of {given}")
        return recorded, ""
    if given is not None and given.is_dir():
        return given, ""
    if recorded is None and given is None:
        return None, f"note: {config.index_dir} does not record its corpus folder; answering from the index as built"
    missing = recorded if recorded is not None else given
    return None, (f"note: the corpus {config.index_dir} was built from ({shown(missing)}) is not here; "
                  f"answering from the index as built")


def rebuild_config(config: Config) -> Config:
    """The settings a missing or stale index is rebuilt with: the corpus, chunking it records (when its
    manifest is readable and that folder is here), else config's."""
    from rag.store.layout import MANIFEST

    try:
        manifest = json.loads((config.index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return config
    if not isinstance(manifest, dict):
        return config
    recorded = recorded_corpus(manifest, config.index_dir)
    changes = {}
    if config.corpus_dir is None and recorded is not None and recorded.is_dir():
        changes["corpus_dir"] = recorded
    chunking = manifest.get("chunking")
    if isinstance(chunking, dict) and set(chunking) == set(config.chunking()):
        changes.update(chunking)
    try:
        return config.with_(**changes)
    except ConfigError:
        return config
