"""Errors a user can act on. Each message says what went wrong and what to do next."""
import shlex
from pathlib import Path


class RagError(Exception):
    """Base class: the CLI and the app show str(error) to the user, never a traceback."""


class IndexNotFound(RagError):
    """No index at the configured folder."""


class IndexMismatch(RagError):
    """The index was built with other settings, another embedder, or an older corpus."""


class IndexCorrupt(RagError):
    """An index file is missing, truncated or unreadable."""


class CorpusError(RagError):
    """The corpus folder is missing or holds no readable article."""


class EmbedderError(RagError):
    """The embedder cannot be loaded (unknown name, missing package, model not found offline)."""


class IndexBusy(RagError):
    """Another build holds the index folder's lock."""


class CorpusMismatch(RagError):
    """--corpus / RAG_CORPUS names another folder than the one the index was built from."""


# ConfigError (a setting out of range) is a RagError too; it lives next to the settings, in rag/config.py.


def install_hint(extra: str) -> str:
    """The pip command that adds an optional extra (pyproject.toml), runnable from any folder."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():  # a clone, installed editable (the README's way)
        return "pip install -e " + shlex.quote(f"{root}[{extra}]")
    return "pip install " + shlex.quote(f"rag-news-zh[{extra}]")
