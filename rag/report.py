"""What a build or an `add` did, said in words (`BuildReport`), and counted nouns said right (`count`).

Both the index folder's build (rag.build) and the Milvus store's `add` (rag.store.milvus_add) report
through it, so it lives apart from either: storage never imports the build step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# English nouns whose plural is not noun + "s".
_PLURALS = {"entry": "entries", "this": "these"}


def count(number: int, noun: str, plural: str | None = None) -> str:
    """"1 file", "2 files", "0 files": the noun agrees with the number (Chinese messages need no plural)."""
    return f"{number} {noun if number == 1 else (plural or _PLURALS.get(noun) or noun + 's')}"


@dataclass(frozen=True)
class FileChanges:
    """How the corpus folder's files compare with the index being refreshed (names, sorted)."""

    unchanged: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def summary(self) -> str:
        return (f"{len(self.unchanged)} unchanged, {len(self.changed)} changed, {len(self.new)} new, "
                f"{len(self.removed)} removed")

    @property
    def any(self) -> bool:
        return bool(self.changed or self.new or self.removed)

    def named(self, limit: int = 3) -> str:
        """"pingdu.txt changed, extra.txt new, old.txt removed" (at most `limit` names of each kind)."""
        parts = []
        for names, word in ((self.changed, "changed"), (self.new, "new"), (self.removed, "removed")):
            if names:
                more = f" and {len(names) - limit} more" if len(names) > limit else ""
                parts.append(f"{', '.join(names[:limit])}{more} {word}")
        return ", ".join(parts)


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
    # A build over an existing index: how the corpus files compare with it, and the files `add` had put in
    # that the refreshed index keeps.
    changes: FileChanges | None = None
    kept_added: int = 0

    def summary(self) -> str:
        line = (f"indexed {count(self.files, 'file')} → {count(self.articles, 'article')} → "
                f"{count(self.chunks, 'chunk')} ({self.embedded} embedded, {self.chunks - self.embedded} from "
                f"cache) in {self.seconds:.1f} s → {self.index_dir}")
        if self.changes is not None:
            line += f"\nrefreshed: {self.changes.summary()}"
            if self.kept_added:
                line += f"; kept {count(self.kept_added, 'file')} added with `python -m rag add`"
        return line + self.not_indexed()

    def add_summary(self) -> str:
        return (f"added {count(self.added, 'source')}, replaced {self.replaced}, kept {self.kept} → "
                f"{count(self.articles, 'new article')} → {count(self.chunks, 'new chunk')} ({self.embedded} "
                f"embedded) in {self.seconds:.1f} s → {self.index_dir}" + self.not_indexed())

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
        return f"\nnot indexed: {count(len(self.skipped), 'file')}\n" + "\n".join(f"  {line}" for line in self.skipped)
