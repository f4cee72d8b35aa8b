"""Helpers shared by the robustness tests (hostile questions, messy corpora, damaged indexes, killed builds).

They run on small corpora with the deterministic "hash:64" embedder; `check_answer` states the invariants
every Answer must keep, whatever the question.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from rag.config import Config
from rag.pipeline import Pipeline
from rag.question import clean_question
from rag.types import Answer, Chunk
from tests.conftest import ROOT, TINY_ARTICLES

HASH = "hash:64"


def run_cli(*args, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m rag ...` with bytes in and out (so invalid UTF-8 on either side is visible)."""
    return subprocess.run([sys.executable, "-m", "rag", *args], input=stdin, capture_output=True,
                          cwd=ROOT, timeout=timeout)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def covered_positions(chunk: Chunk, lo: int, hi: int) -> list[tuple[int, int]]:
    """(position in chunk.text, offset in the file) for every character of text[lo:hi] that a piece covers."""
    out = []
    for pos, file_start, file_end in chunk.pieces:
        for p in range(max(lo, pos), min(hi, pos + file_end - file_start)):
            out.append((p, file_start + p - pos))
    return out


def check_span_maps_to_file(chunk: Chunk, source: str, lo: int, hi: int, start: int, end: int) -> None:
    """chunk.text[lo:hi] is the answer; (start, end) are its file offsets. The contract (rag/types.py):
    every character the chunk's pieces cover is the same character of the decoded file, in order;
    the rest are the newlines the chunker puts between paragraphs; start/end bound the covered ones."""
    pairs = covered_positions(chunk, lo, hi)
    assert pairs, "the answer covers no file text"
    for pos, offset in pairs:
        assert source[offset] == chunk.text[pos], (pos, offset)
    offsets = [offset for _, offset in pairs]
    assert offsets == sorted(set(offsets))
    assert start == offsets[0] and end == offsets[-1] + 1
    covered = {pos for pos, _ in pairs}
    assert all(chunk.text[p] == "\n" for p in range(lo, hi) if p not in covered)
    if len(pairs) == hi - lo and offsets[-1] - offsets[0] == hi - lo - 1:
        assert source[start:end] == chunk.text[lo:hi]  # one piece: the exact original text


def check_answer(answer: Answer, pipeline: Pipeline, question: object, top_k: int | None = None) -> None:
    """The invariants every Answer must keep, whatever the question."""
    assert isinstance(answer, Answer)
    assert isinstance(answer.question, str) and isinstance(answer.text, str) and answer.text
    assert isinstance(answer.abstained, bool) and isinstance(answer.notes, tuple)
    assert answer.question == clean_question(question, pipeline.config.max_question_chars)[0]
    assert len(answer.question) <= pipeline.config.max_question_chars
    assert all(isinstance(c, Chunk) for c in answer.citations)
    assert len(answer.citations) <= (top_k or pipeline.config.top_k)
    assert len({c.id for c in answer.citations}) == len(answer.citations)
    sources = pipeline.index.sources
    for chunk in answer.citations:
        assert 0 <= chunk.start < chunk.end <= len(sources[chunk.source])
    if answer.abstained:
        assert answer.chunk is None and answer.span is None and answer.short_span is None and answer.short_answer == ""
    else:
        chunk = answer.chunk
        assert chunk is not None and answer.citations and answer.citations[0].id == chunk.id
        source = sources[chunk.source]
        lo = next(p for p in _find_all(chunk.text, answer.text) if chunk.to_file_offset(p) == answer.span.start)
        check_span_maps_to_file(chunk, source, lo, lo + len(answer.text), answer.span.start, answer.span.end)
        if answer.short_answer:
            assert answer.short_answer in answer.text
            short_lo = next(p for p in _find_all(chunk.text, answer.short_answer)
                            if chunk.to_file_offset(p) == answer.short_span.start)
            check_span_maps_to_file(chunk, source, short_lo, short_lo + len(answer.short_answer),
                                    answer.short_span.start, answer.short_span.end)
        else:
            assert answer.short_span is None
    data = answer.to_dict(pipeline.original_text)
    line = json.dumps(data, ensure_ascii=False)
    line.encode("utf-8")  # what the CLI prints to stdout and the app sends must be valid UTF-8
    assert json.loads(line) == data
    for citation in data["citations"]:
        assert citation["text"] == sources[citation["source"]][citation["start"]:citation["end"]]


def _find_all(text: str, part: str):
    start = text.find(part)
    while start >= 0:
        yield start
        start = text.find(part, start + 1)


def write_tiny_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TINY_ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def cli_args(config: Config) -> list[str]:
    return ["--corpus", str(config.corpus_dir), "--index", str(config.index_dir), "--embedder", config.embedder]


# Questions that fit on one stdin line (valid UTF-8).
LINE_QUESTIONS = {
    "empty": "",
    "whitespace": " \t \u3000 \u00a0 ",
    "huge": "平度市累计建成了多少万亩高标准农田" * 5_900,  # 100,300 characters
    "control": "平度\x00市\x07累计\x1b[31m建成\x7f了多少\x0b万亩\x0c农田？",
    "nul_only": "\x00\x00\x00",
    "emoji_only": "😀🚜🌾👍🏽👨‍👩‍👧",
    "punctuation_only": "？？？！！……「」",
    "mixed_scripts": "平度市 Pingdu 農田 ноль ١٢٣ 𠀀 ก ☃ 累计建成多少万亩？",
    "sql": "'; DROP TABLE chunks; -- \" OR 1=1 /* 平度 */",
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)>平度市农田",
    "markdown": "[点我](javascript:alert(1)) **平度** `农田` $x^2$ # 标题 | a | b |",
    "bidi_zero_width": "\u202e平度\u200b市\u200d农田\ufeff",
    "combining_only": "\u0301\u0301\u0301",
    "json_like": '{"question": "平度", "answer": null}\\n\\u0000',
    "fullwidth_traditional": "平度市累計建成了多少萬畝高標準農田？ＡＢＣ１２３",
}


def article_file_text(title: str, body: str) -> str:
    return f"{title}\n\n本报讯 {body}\n"


def damage_file(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"\x93NUMPY\x01\x00garbage\xff\xfe" * 8)
