"""What `rag add` was given, read once for either store, and the name-clash rule both stores apply.

Files are named as a build names them: a folder's files relative to that folder, a single file by its
name. A file whose name the index already holds, with other text, is a clash: refused (nothing changes)
unless the caller asked to replace; the same file added again is left out.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from rag.articles import Article
from rag.corpus import corpus_fingerprint_of, file_fingerprint, list_corpus_files, load_corpus
from rag.errors import CorpusError
from rag.report import count


@dataclass(frozen=True)
class FilesToAdd:
    articles: list[Article]
    sources: dict[str, str]  # decoded text by source name
    warnings: list[str]
    fingerprints: dict[str, str]  # hash of every candidate file by name (what the manifest records)
    paths: dict[str, str]  # the absolute path each name was read from (what a re-add hint names)


def read_files_to_add(paths) -> FilesToAdd:
    """The articles, texts, fingerprints and paths of the files `add` was given; CorpusError when none holds a
    readable article."""
    articles, sources, warnings, fingerprints, where = [], {}, [], {}, {}
    for path in map(Path, paths):
        if path.is_dir():
            found, texts, skipped = load_corpus(path)
            fingerprints.update(corpus_fingerprint_of(path))
            files = {file.relative_to(path).as_posix(): file for file in list_corpus_files(path)}
        else:
            found, texts, skipped = load_corpus(path.parent, files=[path])
            fingerprints.update(file_fingerprint([path]))
            files = {path.name: path}
        articles += found
        sources.update(texts)
        warnings += skipped
        where.update({name: os.path.abspath(file) for name, file in files.items()})
    if not sources:
        raise CorpusError(f"nothing to add: no readable article in {', '.join(map(str, paths))}"
                          + (f" ({'; '.join(warnings)})" if warnings else ""))
    return FilesToAdd(articles, sources, warnings, fingerprints, where)


def sort_clashes(new: Mapping[str, str], held: Mapping[str, str], where: str, replace: bool) -> tuple[set, list]:
    """(names whose text the index already holds as it is, names it holds with other text). The second is
    refused with a CorpusError naming the files unless `replace`."""
    same = {name for name, text in new.items() if held.get(name) == text}
    clashes = sorted(name for name in new if name in held and name not in same)
    if clashes and not replace:
        shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise CorpusError(
            f"{count(len(clashes), 'file')} to add {'has' if len(clashes) == 1 else 'have'} the name of a source "
            f"{where} already holds, with other text: {shown}; nothing was changed. Add with --replace to replace "
            f"{'that source' if len(clashes) == 1 else 'those sources'}, or rename the new "
            f"{'file' if len(clashes) == 1 else 'files'}")
    return same, clashes
