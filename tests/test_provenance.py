"""An index knows what it was built from: the corpus folder it checks staleness against, the rebuild
commands its errors suggest, and `add` never dropping a source silently (issue 11)."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from rag.build import add_to_index, build_index
from rag.config import Config
from rag.errors import CorpusError, CorpusMismatch, IndexMismatch
from rag.store.folder import Index
from rag.pipeline import Pipeline
from rag.provenance import recorded_corpus
from tests.conftest import ROOT, TINY_ARTICLES

HASH = "hash:64"
QUESTIONS = ["平度市累计建成了多少万亩高标准农田？", "胶州市探索成立了几个片区联合党委？", "澳门路农贸市场片区查处了多少起？"]


def run(*args, cwd, stdin=None):
    env_path = str(ROOT)  # the CLI under test, whatever the working folder
    return subprocess.run([sys.executable, "-m", "rag", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin",
                                                     "HOME": str(cwd), "RAG_READER": "none"})  # not under test


def write_corpus(folder):
    folder.mkdir(parents=True)
    for name, text in TINY_ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def answers(result) -> list[tuple]:
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return [(r["question"], r["answer"], r["short_answer"], [c["source"] for c in r["citations"]]) for r in rows]


def ask(cwd, *args):
    return run("ask", "--json", *args, cwd=cwd, stdin="\n".join(QUESTIONS) + "\n")


# ----------------------------------------------------------------------------------------------
# 1. --index alone is checked against the corpus the index was built from
# ----------------------------------------------------------------------------------------------

def test_index_alone_is_checked_against_its_own_corpus_from_any_folder(tmp_path):
    """`ask --index mynews-index` compares the index with the corpus it was built from, not the default
    seeds/ folder (which called it stale and suggested overwriting it with the wrong corpus)."""
    write_corpus(tmp_path / "mynews")
    built = run("build", "--corpus", "mynews", "--index", "mynews-index", "--embedder", HASH, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    first = answers(ask(tmp_path, "--index", "mynews-index", "--embedder", HASH))
    assert "155.2万亩" in first[0][1] and "5个片区" in first[1][1]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # From another working folder, and from the repository (which has a seeds/ of its own).
    for cwd, index in ((elsewhere, "../mynews-index"), (ROOT, str(tmp_path / "mynews-index"))):
        result = ask(cwd, "--index", index, "--embedder", HASH)
        assert result.stderr == "" and answers(result) == first
    # A changed article is noticed in the index's own folder: still answered, and the refresh command
    # (which rebuilds from that folder) runs as printed from where the user stands.
    (tmp_path / "mynews" / "pingdu.txt").write_text(TINY_ARTICLES["pingdu.txt"] + "\n", encoding="utf-8")
    result = ask(elsewhere, "--index", "../mynews-index", "--embedder", HASH)
    assert answers(result) == first and "pingdu.txt changed" in result.stderr
    command = f"python -m rag build --corpus {tmp_path / 'mynews'} --index ../mynews-index --embedder {HASH}"
    assert f"`{command}`" in result.stderr, result.stderr
    refreshed = run(*shlex.split(command)[3:], cwd=elsewhere)
    assert refreshed.returncode == 0 and "1 unchanged, 1 changed, 0 new, 0 removed" in refreshed.stdout
    result = ask(elsewhere, "--index", "../mynews-index", "--embedder", HASH)
    assert result.stderr == "" and answers(result) == first


def test_manifest_records_the_corpus_relative_to_the_index_or_absolute(tiny_index, tmp_path):
    manifest = Index.load(tiny_index.index_dir).manifest
    assert manifest["corpus_path"] == "../corpus"  # index and corpus side by side in tmp_path
    assert recorded_corpus(manifest, tiny_index.index_dir) == tiny_index.corpus_dir
    far = tmp_path / "a" / "b" / "index"
    build_index(tiny_index.with_(index_dir=far))
    assert Index.load(far).manifest["corpus_path"] == str(tiny_index.corpus_dir.resolve())
    # A project copied elsewhere (index and corpus together) still finds its own corpus.
    shutil.copytree(tmp_path, tmp_path.parent / (tmp_path.name + "-copy"), symlinks=True)
    copy = tmp_path.parent / (tmp_path.name + "-copy")
    assert recorded_corpus(Index.load(copy / "index").manifest, copy / "index") == copy / "corpus"


def test_old_manifest_without_corpus_path_falls_back_next_to_the_index(tiny_index):
    path = tiny_index.index_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["corpus_path"]
    path.write_text(json.dumps({**manifest, "corpus_dir": "corpus"}))  # as an older build wrote it
    assert recorded_corpus(json.loads(path.read_text()), tiny_index.index_dir) == tiny_index.corpus_dir
    assert Pipeline.load(Config(index_dir=tiny_index.index_dir, embedder=HASH)).note == ""
    # The committed index has such a manifest (corpus_dir "seeds"), and is checked against seeds/.
    committed = json.loads((ROOT / "index" / "manifest.json").read_text())
    assert recorded_corpus(committed, ROOT / "index") == ROOT / "seeds"


def test_explicit_other_corpus_is_an_error_not_a_rebuild_suggestion(tiny_index, tmp_path):
    other = write_corpus(tmp_path / "other")
    with pytest.raises(CorpusMismatch, match=r"was built from .*corpus, not .*other: leave out --corpus") as caught:
        Pipeline.load(tiny_index.with_(corpus_dir=other))
    assert "python -m rag build" not in str(caught.value)
    # The app, which rebuilds stale indexes at start, does not rebuild over it either.
    before = (tiny_index.index_dir / "manifest.json").read_bytes()
    with pytest.raises(CorpusMismatch):
        Pipeline.load(tiny_index.with_(corpus_dir=other), build_if_needed=True)
    assert (tiny_index.index_dir / "manifest.json").read_bytes() == before
    Pipeline.load(tiny_index)  # the index's own corpus, named explicitly, is fine
    result = run("ask", "--index", str(tiny_index.index_dir), "--corpus", str(other), "--embedder", HASH, "问题",
                 cwd=tmp_path)
    assert result.returncode == 1 and "was built from" in result.stderr and "Traceback" not in result.stderr


def test_index_whose_corpus_is_gone_is_served_as_built_with_a_note(tiny_index, tmp_path):
    """An index copied to another machine (or a Space) without its corpus folder."""
    tiny_index.corpus_dir.rename(tmp_path / "moved-away")
    messages = []
    pipeline = Pipeline.load(Config(index_dir=tiny_index.index_dir, embedder=HASH), progress=messages.append)
    assert "155.2万亩" in pipeline.ask(QUESTIONS[0]).text
    assert "is not here" in pipeline.note and pipeline.note in messages
    assert pipeline.info["note"] == pipeline.note
    import app

    assert "is not here" in app.status_html(pipeline.info)
    result = run("ask", "--index", str(tiny_index.index_dir), "--embedder", HASH, QUESTIONS[0], cwd=tmp_path)
    assert result.returncode == 0 and "155.2万亩" in result.stdout
    assert result.stderr.count("\n") == 1 and "is not here" in result.stderr
    # Rebuilding it needs the folder named: it is not rebuilt from the default seeds/.
    before = (tiny_index.index_dir / "manifest.json").read_bytes()
    with pytest.raises(CorpusError, match="which is not here: pass --corpus"):
        build_index(Config(index_dir=tiny_index.index_dir, embedder=HASH))
    assert (tiny_index.index_dir / "manifest.json").read_bytes() == before
    build_index(Config(index_dir=tiny_index.index_dir, corpus_dir=tmp_path / "moved-away", embedder=HASH))
    assert Pipeline.load(Config(index_dir=tiny_index.index_dir, embedder=HASH)).note == ""


def test_build_without_corpus_rebuilds_the_index_from_its_own_corpus(tiny_index, tmp_path):
    (tiny_index.corpus_dir / "extra.txt").write_text("新文章\n\n本报讯 崂山区新建口袋公园12座。\n", encoding="utf-8")
    assert "extra.txt new" in Pipeline.load(Config(index_dir=tiny_index.index_dir, embedder=HASH)).note
    report = build_index(Config(index_dir=tiny_index.index_dir, embedder=HASH, chunk_size=60), progress=False)
    assert report.files == 3 and not report.warnings
    other = write_corpus(tmp_path / "other")  # naming another corpus rebuilds from it, and says so
    report = build_index(tiny_index.with_(corpus_dir=other))
    assert any("was built from" in w for w in report.warnings)


# ----------------------------------------------------------------------------------------------
# Every suggested command rebuilds the index from the corpus it came from
# ----------------------------------------------------------------------------------------------

def _damage_stale(folder, corpus):
    (corpus / "jiaozhou.md").write_text(TINY_ARTICLES["jiaozhou.md"] + "\n", encoding="utf-8")


def _damage_format(folder, corpus):
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))


def _damage_chunks(folder, corpus):
    (folder / "chunks.jsonl").write_text("{", encoding="utf-8")


def _damage_dense(folder, corpus):
    (folder / "dense.faiss").unlink()


def _damage_sentences(folder, corpus):
    (folder / "sentences.npy").write_bytes(b"garbage")


@pytest.mark.parametrize("damage", [_damage_stale, _damage_format, _damage_chunks, _damage_dense,
                                    _damage_sentences], ids=lambda f: f.__name__[8:])
def test_each_suggested_command_rebuilds_the_same_index(tmp_path, damage):
    """Paths with spaces, non-default chunking, a non-default embedder: the command runs as printed."""
    write_corpus(tmp_path / "my news")
    build = ["--corpus", "my news", "--index", "my index", "--embedder", HASH, "--chunk-size", "60"]
    assert run("build", *build, cwd=tmp_path).returncode == 0
    before = answers(ask(tmp_path, "--index", "my index", "--embedder", HASH))
    assert "155.2万亩" in before[0][1]
    damage(tmp_path / "my index", tmp_path / "my news")
    result = ask(tmp_path, "--index", "my index", "--embedder", HASH)
    # A stale index is still answered from (exit 0), with the refresh command in its note.
    assert result.returncode == (0 if damage is _damage_stale else 1) and "Traceback" not in result.stderr
    commands = re.findall(r"`(python -m rag build[^`]*)`", result.stderr)
    assert commands, result.stderr
    for command in commands:
        argv = shlex.split(command)
        assert argv[:3] == ["python", "-m", "rag"]
        rebuilt = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True, text=True,
                                 timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        assert rebuilt.returncode == 0, rebuilt.stderr
    assert answers(ask(tmp_path, "--index", "my index", "--embedder", HASH)) == before


def test_unreadable_manifest_suggests_a_command_that_cannot_overwrite_with_the_wrong_corpus(tiny_index, tmp_path):
    (tiny_index.index_dir / "manifest.json").write_text("{", encoding="utf-8")
    result = run("ask", "--index", str(tiny_index.index_dir), "--embedder", HASH, "问题", cwd=tmp_path)
    assert result.returncode == 1
    command = re.search(r"`(python -m rag build[^`]*)`", result.stderr).group(1)
    assert "--corpus CORPUS_DIR" in command and "the folder of articles it was built from" in result.stderr
    rebuilt = subprocess.run([sys.executable, *shlex.split(command)[1:]], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert rebuilt.returncode == 1 and "CORPUS_DIR does not exist" in rebuilt.stderr
    assert (tiny_index.index_dir / "manifest.json").read_text() == "{"  # untouched


# ----------------------------------------------------------------------------------------------
# 2. `rag add` never drops a source silently
# ----------------------------------------------------------------------------------------------

NEW_PINGDU = "平度新闻\n\n本报讯 平度市今年新建口袋公园8座。\n"


def test_add_refuses_a_name_clash_unless_replace(tiny_index, tmp_path):
    """`rag add new/` with a file named like an existing source refuses (changing nothing) unless
    --replace, instead of replacing it without a word."""
    new = tmp_path / "new"
    new.mkdir()
    (new / "pingdu.txt").write_text(NEW_PINGDU, encoding="utf-8")
    (new / "laoshan.txt").write_text("崂山新闻\n\n本报讯 崂山区今年新建口袋公园12座。\n", encoding="utf-8")
    before = (tiny_index.index_dir / "chunks.jsonl").read_bytes()
    with pytest.raises(CorpusError, match=r"pingdu\.txt.*nothing was changed.*--replace"):
        add_to_index(tiny_index, [new])
    assert (tiny_index.index_dir / "chunks.jsonl").read_bytes() == before
    args = ["--index", str(tiny_index.index_dir)]
    refused = run("add", str(new), *args, cwd=tmp_path)
    assert refused.returncode == 1 and "pingdu.txt" in refused.stderr and "Traceback" not in refused.stderr
    assert (tiny_index.index_dir / "chunks.jsonl").read_bytes() == before
    done = run("add", str(new), "--replace", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "added 1 source, replaced 1, kept 1" in done.stdout
    index = Index.load(tiny_index.index_dir)
    assert index.sources["pingdu.txt"] == NEW_PINGDU and "laoshan.txt" in index.sources
    assert "jiaozhou.md" in index.sources
    # The same files again: nothing to replace, nothing refused.
    again = run("add", str(new), *args, cwd=tmp_path)
    assert again.returncode == 0 and "added 0 sources, replaced 0, kept 3" in again.stdout, again.stderr
    # The replaced source is the user's choice, not a stale corpus; the rebuild advice says what add put in.
    pipeline = Pipeline.load(Config(index_dir=tiny_index.index_dir, embedder=HASH))
    assert "8座" in pipeline.ask("平度市今年新建了多少座口袋公园？").text
    (tiny_index.corpus_dir / "jiaozhou.md").write_text(TINY_ARTICLES["jiaozhou.md"] + "\n", encoding="utf-8")
    note = Pipeline.load(Config(index_dir=tiny_index.index_dir, embedder=HASH)).note
    assert "jiaozhou.md changed" in note and "pingdu.txt" not in note
    # Advice that rebuilds names the added files by their full paths (the copy to add again).
    path = tiny_index.index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 1}))
    with pytest.raises(IndexMismatch) as caught:
        Pipeline.load(Config(index_dir=tiny_index.index_dir, embedder=HASH))
    assert f"keeps the 2 files added with `python -m rag add` while it can still read them " \
           f"({new / 'laoshan.txt'} {new / 'pingdu.txt'})" in str(caught.value)
    # The refresh keeps what `add` put in: the added pingdu.txt, not the corpus's own.
    report = build_index(Config(index_dir=tiny_index.index_dir, embedder=HASH))
    assert report.kept_added == 2 and any("kept pingdu.txt as added" in w for w in report.warnings)
    assert Index.load(tiny_index.index_dir).sources["pingdu.txt"] == NEW_PINGDU


# ----------------------------------------------------------------------------------------------
# 3. A missing index: every suggested command runs as printed from where the user stands (issue 21, item 2)
# ----------------------------------------------------------------------------------------------

def test_missing_index_from_another_folder_suggests_commands_that_run_there(tmp_path):
    """From a folder without seeds/, `ask` used to say `run python -m rag build --index index`, which then
    failed with "corpus folder seeds does not exist"."""
    result = run("ask", "--embedder", HASH, QUESTIONS[0], cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    own = re.search(r"add `--index ([^`]*)`", result.stderr).group(1)
    assert own == (ROOT / "index").as_posix() and (ROOT / "index" / "manifest.json").is_file()
    command = re.search(r"`(python -m rag build[^`]*)`", result.stderr).group(1)
    assert f"--corpus {(ROOT / 'seeds').as_posix()}" in command and "--embedder hash:64" in command
    built = run(*shlex.split(command)[3:], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    again = run("ask", "--json", "--embedder", HASH, QUESTIONS[0], cwd=tmp_path)
    assert again.returncode == 0 and "155.2万亩" in json.loads(again.stdout)["answer"], again.stderr
    # With a seeds/ folder where the user stands, the command names it and builds from it.
    write_corpus(tmp_path / "here" / "seeds")
    result = run("ask", "--embedder", HASH, QUESTIONS[0], cwd=tmp_path / "here")
    command = re.search(r"`(python -m rag build[^`]*)`", result.stderr).group(1)
    assert command == f"python -m rag build --corpus seeds --index index --embedder {HASH}"
    assert run(*shlex.split(command)[3:], cwd=tmp_path / "here").returncode == 0
