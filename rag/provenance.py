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
from rag.report import count

# A placeholder in suggested commands when the corpus cannot be known (an unreadable manifest): running the
# command as printed fails harmlessly ("corpus folder CORPUS_DIR does not exist").
UNKNOWN_CORPUS = "CORPUS_DIR"
# The project this package belongs to (an editable install or a run from the repository): its committed
# index and seed articles are what a user in another folder usually meant.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    """"run `<rebuild_command>`" (for an index that is not there yet: commands that run as printed from the
    working folder, new_index_advice), plus which files `rag add` put in (the build keeps them)."""
    if corpus is None and not manifest and not unknown_corpus:
        return new_index_advice(index_dir, embedder)
    advice = f"run `{rebuild_command(index_dir, manifest, corpus, embedder, unknown_corpus)}`"
    if unknown_corpus and corpus is None and recorded_corpus(manifest or {}, index_dir) is None:
        advice += f" with {UNKNOWN_CORPUS} the folder of articles it was built from"
    added = manifest.get("added") if isinstance(manifest, dict) else None
    if isinstance(added, dict) and added:
        advice += (f", which keeps the {count(len(added), 'file')} added with `python -m rag add` while it can "
                   f"still read {'it' if len(added) == 1 else 'them'} ({added_paths(manifest)})")
    return advice


def added_paths(manifest: dict, limit: int = 3) -> str:
    """The files `rag add` put in, by the full path each was read from (its name where the index is older
    than that record), shell-quoted: the copy to add again, not another one of the same name."""
    added = manifest.get("added") if isinstance(manifest.get("added"), dict) else {}
    paths = manifest.get("added_from") if isinstance(manifest.get("added_from"), dict) else {}
    names = sorted(added)
    shown_paths = [shlex.quote(str(paths.get(name) or name)) for name in names[:limit]]
    return " ".join(shown_paths) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def new_index_advice(index_dir: Path, embedder: str | None = None) -> str:
    """What to run when there is no index at index_dir, every command runnable as printed from the working
    folder: build from ./seeds when it is here; else point at the project's own index, or build from the
    project's articles; else build from the user's folder of articles (named as a placeholder)."""
    here = Path("seeds")
    if here.is_dir():
        return f"run `{rebuild_command(index_dir, corpus=here, embedder=embedder)}`"
    choices = []
    own = PROJECT_ROOT / "index"
    if (own / "manifest.json").is_file() and not same_folder(own, index_dir):
        choices.append(f"to ask the project's own index, add `--index {shlex.quote(own.as_posix())}`")
    if (PROJECT_ROOT / "seeds").is_dir():
        choices.append(f"to build one at {index_dir} from the project's articles, run "
                       f"`{rebuild_command(index_dir, corpus=PROJECT_ROOT / 'seeds', embedder=embedder)}`")
    if not choices:
        return (f"run `{rebuild_command(index_dir, embedder=embedder, unknown_corpus=True)}` with {UNKNOWN_CORPUS} "
                f"your folder of .txt/.md articles")
    return "; or ".join(choices)


def stale_note(config: Config, manifest: dict, corpus: Path, named: str) -> str:
    """The one line a stale index is answered with: the files that changed and the command that refreshes
    it (a build over it embeds only those files and keeps what `rag add` put in)."""
    command = rebuild_command(config.index_dir, manifest, corpus)
    if config.store == "milvus":
        command += " " + " ".join(shlex.quote(part) for part in (
            "--store", "milvus", "--milvus-uri", config.milvus_uri, "--collection", config.collection))
    return (f"note: {config.index_dir} is out of date: since it was built, in {shown(corpus)}: {named}. Answering "
            f"from the index as built; to refresh it (only those files are embedded again), run `{command}`")


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
