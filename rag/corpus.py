"""The corpus folder: which files are articles, how their bytes are decoded, their fingerprints.

`load_corpus` reads every file through its reader (rag.readers: text in UTF-8, UTF-16 with BOM or
GBK/GB18030, HTML pages, PDFs, Word files, article records) and skips with a warning naming the file and
the reason whatever is not indexed (an unsupported type, empty, binary, too large, a scan without text, a
symlink out of the folder, no article text). Citations' offsets index into each file's extracted text.
Hidden files and folders (a name starting with ".") are not looked at.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from rag.articles import Article
from rag.errors import CorpusError
from rag.readers import READABLE_SUFFIXES, SkipFile, read_document, unsupported_reason

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = READABLE_SUFFIXES
MAX_FILE_BYTES = 20 * 1024 * 1024  # larger files are not articles (archives, dumps): skipped


def decode_bytes(raw: bytes, name: str = "<bytes>") -> str:
    """Decode Chinese text: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (⊃ GBK)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    if b"\x00" in raw[:4096]:
        raise CorpusError(f"{name}: looks binary (NUL bytes); not an article")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{name}: neither UTF-8 nor GBK/GB18030 text ({error.reason})") from None


def read_text(path: Path) -> str:
    """The decoded text of one corpus file; citations' offsets index into this string."""
    return decode_bytes(path.read_bytes(), path.name)


def list_corpus_files(corpus_dir: Path, warnings: list[str] | None = None) -> list[Path]:
    """Files of a readable type under corpus_dir, sorted; symlinks leading out of the folder are not
    followed, and files of other types are not read (each one skipped is named in `warnings`)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist: pass --corpus DIR with .txt/.md articles")
    root = corpus_dir.resolve()
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in ARTICLE_SUFFIXES:
            if warnings is not None:
                warnings.append(f"skipped {relative.as_posix()}: {unsupported_reason(path.suffix)}")
            continue
        if not path.resolve().is_relative_to(root):
            message = f"skipped {path.relative_to(corpus_dir).as_posix()}: it links outside the corpus folder"
            log.warning(message)
            if warnings is not None:
                warnings.append(message)
            continue
        files.append(path)
    return files


def file_fingerprint(paths: list[Path], root: Path | None = None) -> dict[str, str]:
    """{name: hash of the file's bytes} for every candidate file, skipped ones too, so that an index
    can tell whether the corpus changed without decoding or parsing anything."""
    fingerprint = {}
    for path in paths:
        name = path.relative_to(root).as_posix() if root is not None else path.name
        try:
            fingerprint[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
        except OSError:
            fingerprint[name] = "unreadable"
    return fingerprint


def corpus_fingerprint_of(corpus_dir: Path) -> dict[str, str]:
    return file_fingerprint(list_corpus_files(corpus_dir), Path(corpus_dir))


def load_corpus(corpus_dir: Path, files: list[Path] | None = None) -> tuple[list[Article], dict[str, str], list[str]]:
    """Articles of every readable file (all under corpus_dir, or just `files`, named by file name),
    the decoded texts by source name, and warnings for skipped files."""
    corpus_dir = Path(corpus_dir)
    articles: list[Article] = []
    texts: dict[str, str] = {}
    warnings: list[str] = []
    for path in list_corpus_files(corpus_dir, warnings) if files is None else [Path(f) for f in files]:
        name = path.relative_to(corpus_dir).as_posix() if files is None else path.name
        try:
            size = path.stat().st_size
        except OSError as error:
            warnings.append(f"skipped {name}: {error.strerror}")
            continue
        if size == 0:
            warnings.append(f"skipped {name}: empty file")
            continue
        if size > MAX_FILE_BYTES:
            warnings.append(f"skipped {name}: {size / 1e6:.0f} MB is too large for an article (limit {MAX_FILE_BYTES // 2**20} MiB)")
            continue
        try:
            document = read_document(path, name)
        except SkipFile as error:
            warnings.append(f"skipped {name}: {error}")
            continue
        except CorpusError as error:
            warnings.append(f"skipped {error}")
            continue
        except OSError as error:
            warnings.append(f"skipped {name}: {error.strerror}")
            continue
        warnings.extend(document.notes)
        if not document.articles:
            warnings.append(f"skipped {name}: no article text found")
            continue
        texts[name] = document.text
        articles.extend(document.articles)
    if not articles and files is None:
        raise CorpusError(f"no readable article in {corpus_dir}: add articles ({', '.join(ARTICLE_SUFFIXES)} files)")
    return articles, texts, warnings
