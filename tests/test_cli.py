"""`python -m rag`: answers on the committed index (marked slow), hostile input, exit codes, no tracebacks."""
import json
import subprocess
import sys

import pytest

from rag.pipeline import EMPTY_QUESTION
from tests.conftest import ROOT
from tests.helpers import LINE_QUESTIONS, damage_file, cli_args, no_traceback, run_cli


def run(*args, stdin=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "rag", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.slow
def test_ask_json_reads_stdin_one_object_per_line():
    result = run("ask", "--json", "--top-k", "2", stdin="辛安街道辖域面积是多少？\n青岛地铁1号线是哪一年开通的？\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == ["辛安街道辖域面积是多少？", "青岛地铁1号线是哪一年开通的？"]
    assert rows[0]["short_answer"] == "49.4平方公里" and len(rows[0]["citations"]) == 2
    assert rows[0]["citations"][0]["source"] == "003_17f0cbaad96a03de.txt"


@pytest.mark.slow
def test_ask_prints_readable_answer():
    result = run("ask", "胶州市探索成立了几个片区联合党委？")
    assert result.returncode == 0 and "[1]" in result.stdout and "000_4b1c3b504440ce06.txt" in result.stdout


def test_missing_index_is_a_message_not_a_traceback(tmp_path):
    result = run("ask", "--index", str(tmp_path / "none"), "问题")
    assert result.returncode == 1
    assert "python -m rag build" in result.stderr and "Traceback" not in result.stderr


def test_build_on_a_folder(tiny_corpus, tmp_path):
    result = run("build", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "ix"), "--embedder", "hash:32")
    assert result.returncode == 0, result.stderr
    assert "articles" in result.stdout and "chunks" in result.stdout


def test_bad_setting_exit_code(tmp_path):
    result = run("ask", "--top-k", "0", "问题")
    # The same rule, and the same words, as the app's /ask (rag.config.check_top_k; tests/test_app.py).
    assert result.returncode == 1 and "top_k must be an integer in [1, 100], got 0" in result.stderr


# ----------------------------------------------------------------------------------------------
# Hostile input: one JSON object per stdin line, exit codes, no tracebacks
# ----------------------------------------------------------------------------------------------

def _stdin_lines() -> tuple[list[str], bytes]:
    names = sorted(LINE_QUESTIONS)
    return names, "".join(LINE_QUESTIONS[n] + "\n" for n in names).encode("utf-8")


def _json_rows(result: subprocess.CompletedProcess, expected: int) -> list[dict]:
    text = result.stdout.decode("utf-8")  # strict: the output must be valid UTF-8
    lines = text.splitlines()
    assert len(lines) == expected, text[-2000:]
    rows = [json.loads(line) for line in lines]
    assert all(isinstance(row, dict) and {"question", "answer", "abstained", "citations"} <= set(row) for row in rows)
    return rows


def test_cli_ask_json_hostile_stdin(tiny):
    names, stdin = _stdin_lines()
    result = run_cli("ask", "--json", *cli_args(tiny), stdin=stdin)
    no_traceback(result)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    rows = _json_rows(result, len(names))
    by_name = dict(zip(names, rows))
    assert by_name["empty"]["abstained"] and by_name["emoji_only"]["abstained"]
    assert any("truncated" in note for note in by_name["huge"]["notes"])
    assert by_name["html"]["question"].startswith("<script>")


def test_cli_follow_up_without_context_asks_for_a_full_question(tiny):
    """`ask --json` reads each line on its own: a follow-up gets the request for a full question."""
    from rag.dialogue import FOLLOW_UP_WITHOUT_CONTEXT

    result = run_cli("ask", "--json", *cli_args(tiny), stdin="那平度呢？\n".encode())
    row = json.loads(result.stdout)
    assert result.returncode == 0 and row["abstained"] and row["answer"] == FOLLOW_UP_WITHOUT_CONTEXT


def test_cli_citations_read_as_text_and_json_keeps_the_exact_file_text(tiny):
    """Issue 21, item 9: no stray space where a line (or a page column) broke a sentence (`粮食院 士`), no
    `## ` heading marks; `--json` still has the passage exactly as it stands in the file."""
    questions = "平度市累计建成了多少万亩高标准农田？\n澳门路农贸市场片区查处了多少起不戴头盔？\n".encode()
    text = run_cli("ask", *cli_args(tiny), "--top-k", "3", stdin=questions).stdout.decode()
    passages = [line.strip() for line in text.splitlines() if line.startswith("    ")]
    assert any("粮食院士专家工作站" in p for p in passages) and not any("院 士" in p for p in passages), text
    assert not any("#" in p for p in passages) and not any("  " in p for p in passages), text
    rows = [json.loads(line) for line in run_cli("ask", "--json", *cli_args(tiny), "--top-k", "3",
                                                  stdin=questions).stdout.decode().splitlines()]
    cited = [c["text"] for row in rows for c in row["citations"]]
    assert any("粮食院\n" in t for t in cited) and any("## 精准施策" in t for t in cited)


def test_reading_text_joins_lines_as_a_reader_reads_them():
    from rag.render import reading_text

    assert reading_text("# 标题\n\n粮食院\n士专家。\n## 小节\nIn English\nwords 1\n2") == \
        "标题粮食院士专家。小节 In English words 1 2"


def test_cli_ask_text_hostile_stdin(tiny):
    names, stdin = _stdin_lines()
    result = run_cli("ask", *cli_args(tiny), stdin=stdin)
    no_traceback(result)
    assert result.returncode == 0
    text = result.stdout.decode("utf-8")
    assert text.count(EMPTY_QUESTION) == 6  # empty, whitespace, NUL, emoji, punctuation, combining marks


INVALID_UTF8_LINES = [b"\xff\xfe\n", "平度市累计建成了多少万亩高标准农田？".encode() + b"\n", b"caf\xc3\n",
                      b"\xed\xa0\x80\xe5\xb9\xb3\xe5\xba\xa6\n", b"\xe5\xb9\n", "胶州市探索成立了几个片区联合党委？".encode() + b"\n"]


def test_cli_ask_json_invalid_utf8_stdin(tiny):
    """An undecodable stdin line does not crash `ask` (UnicodeEncodeError from OpenCC under the default
    C.UTF-8 locale, UnicodeDecodeError with PYTHONIOENCODING=utf-8): every line, and those after it, get
    an answer (docs/reliability.md, bug 2)."""
    result = run_cli("ask", "--json", *cli_args(tiny), stdin=b"".join(INVALID_UTF8_LINES))
    no_traceback(result)
    assert result.returncode == 0
    rows = _json_rows(result, len(INVALID_UTF8_LINES))
    assert rows[1]["short_answer"] == "155.2万亩" and not rows[5]["abstained"]


@pytest.mark.parametrize("arg", [b"\xff", b"\xff\xe5\xb9\xb3\xe5\xba\xa6\xe5\xb8\x82\xe5\x86\x9c\xe7\x94\xb0"],
                         ids=["byte_only", "byte_and_text"])
def test_cli_ask_json_invalid_utf8_argv(tiny, arg):
    """An undecodable byte in the question argument is not echoed as a raw byte (invalid UTF-8 JSON),
    and with real text around it does not crash with UnicodeEncodeError: one valid JSON object."""
    result = subprocess.run([sys.executable, "-m", "rag", "ask", "--json", *cli_args(tiny), arg],
                            capture_output=True, cwd=ROOT, timeout=120)
    no_traceback(result)
    assert result.returncode == 0
    _json_rows(result, 1)


@pytest.mark.slow
def test_cli_real_index_hostile_stdin_json():
    """The committed index with the default embedder: every hostile line gets one JSON object.
    (Without the 100,000-character line: a 500-character query costs the e5 model ~2-3 s of CPU.)"""
    names = [n for n in sorted(LINE_QUESTIONS) if n != "huge"]
    stdin = "".join(LINE_QUESTIONS[n] + "\n" for n in names).encode("utf-8")
    result = run_cli("ask", "--json", "--top-k", "3", stdin=stdin)
    no_traceback(result)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    rows = _json_rows(result, len(names))
    by_name = dict(zip(names, rows))
    assert by_name["fullwidth_traditional"]["short_answer"] == "155.2万亩"  # 累計/萬畝 folded to Simplified
    assert by_name["html"]["question"] == LINE_QUESTIONS["html"]  # echoed as text, not interpreted
    for row in rows:
        assert len(row["citations"]) <= 3


@pytest.mark.slow
def test_cli_real_index_text_mode_and_closed_stdout(tmp_path):
    """Text mode on the real index, and a reader that goes away (`| head -c 200`): exit 0, no traceback."""
    names, stdin = _stdin_lines()
    (tmp_path / "in.txt").write_bytes(stdin * 3)
    with open(tmp_path / "in.txt", "rb") as questions, open(tmp_path / "err.txt", "wb") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "rag", "ask"], stdin=questions, stdout=subprocess.PIPE,
                                stderr=errors, cwd=ROOT)
        first = proc.stdout.read(200)
        proc.stdout.close()
        code = proc.wait(timeout=120)
    stderr = (tmp_path / "err.txt").read_text("utf-8", "replace")
    assert first and "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-2000:]
    assert code == 0, (code, stderr[-2000:])


# ----------------------------------------------------------------------------------------------
# Damaged indexes: exit 1, the file and the fix on stderr
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["chunks.jsonl:missing", "dense.faiss:truncated", "manifest.json:[]",
                                    "sentences.npy:truncated", "sentences.npy:missing", "embedder", "format"])
def test_cli_damaged_index_exit_1_no_traceback(index_copy, damage):
    """Exit 1, nothing on stdout, no traceback; stderr names the file (or setting) and the fix.
    (manifest.json:[] is the wrong-shaped case of test_index.py's test_wrong_shaped_index_file_is_named_with_the_fix.)"""
    folder = index_copy.index_dir
    args = cli_args(index_copy)
    if damage == "embedder":
        args[-1] = "hash:32"
        expected = "built with embedder"
    elif damage == "format":
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))  # an index from before sentences.npy
        expected = "index format 1"
    else:
        name, how = damage.split(":")
        if how == "[]":
            (folder / name).write_text("[]")
        else:
            damage_file(folder / name, how)
        expected = name
    result = run_cli("ask", "--json", *args, "平度市累计建成了多少万亩高标准农田？")
    no_traceback(result)
    stderr = result.stderr.decode("utf-8")
    assert result.returncode == 1 and result.stdout == b""
    assert expected in stderr and "python -m rag build" in stderr, stderr
