import json
import subprocess
import sys

from tests.conftest import ROOT


def run(*args, stdin=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "rag", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_ask_json_reads_stdin_one_object_per_line():
    result = run("ask", "--json", "--top-k", "2", stdin="辛安街道辖域面积是多少？\n青岛地铁1号线是哪一年开通的？\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == ["辛安街道辖域面积是多少？", "青岛地铁1号线是哪一年开通的？"]
    assert rows[0]["short_answer"] == "49.4平方公里" and len(rows[0]["citations"]) == 2
    assert rows[0]["citations"][0]["source"] == "003_17f0cbaad96a03de.txt"


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
    assert result.returncode == 1 and "top_k" in result.stderr
