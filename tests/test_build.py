"""Building an index: killed builds, half-swapped folders, two builds at once, the per-folder lock; and
check_index / ensure_index (load and check, or build when missing or stale).

Real `python -m rag build` processes on a generated 2,000-article corpus with the "hash:64" embedder.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.build import add_to_index, build_index, check_index, ensure_index
from rag.config import Config
from rag.corpus import corpus_fingerprint_of, read_text
from rag.errors import IndexBusy, IndexMismatch, IndexNotFound, RagError
from rag.store.folder import Index
from rag.store.layout import build_lock, recover_interrupted
from rag.store.manifest import read_manifest
from rag.pipeline import Pipeline
from tests.conftest import ROOT
from tests.helpers import HASH, article_file_text, tree_digest, write_tiny_corpus


ARTICLES = 2000
PLACES = "平度 胶州 即墨 莱西 黄岛 崂山 李沧 市北 市南 城阳".split()
THINGS = "农田 公园 学校 道路 医院 港口 工厂 图书馆 地铁 公交".split()


def _generate(folder: Path, count: int, edition: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        place, thing = PLACES[i % 10], THINGS[(i // 10) % 10]
        # Every 4th article changes between editions: a rebuild re-embeds 500 chunks (a few seconds).
        extra = edition if i % 4 == 0 else ""
        (folder / f"{i:05d}.txt").write_text(
            f"{place}{thing}建设新进展第{i}号{extra}\n\n本报讯 {place}市今年新建{thing}{i}处，总投资{i * 3 + 7}万元{extra}。"
            f"项目由{place}市政府牵头，预计{2020 + i % 6}年完工。\n\n当地居民表示，{thing}建设让生活更便利。\n",
            encoding="utf-8")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> dict:
    """A 2,000-article corpus, its index, and a second edition of the corpus (500 articles changed)."""
    base = tmp_path_factory.mktemp("big")
    _generate(base / "old", ARTICLES)
    old = Config(corpus_dir=base / "old", index_dir=base / "index", embedder=HASH)
    build_index(old)
    _generate(base / "new", ARTICLES, edition="（更新）")
    return {"base": base, "old": old, "new_corpus": base / "new"}


def _start_build(corpus: Path, index_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag", "build", "--corpus", str(corpus), "--index",
                             str(index_dir), "--embedder", HASH], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_at(proc: subprocess.Popen, index_dir: Path, when) -> str:
    """SIGKILL the build after `when` seconds, or when its staging folder (or the staging manifest,
    the last file written before fsync and the two renames) appears. Returns what was seen."""
    staging = index_dir.parent / f"{index_dir.name}.tmp-{proc.pid}"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if isinstance(when, float) and time.monotonic() - proc.started >= when:
            break
        if when == "staging" and staging.exists():
            break
        if when == "staging-manifest" and (staging / "manifest.json").exists():
            break
        time.sleep(0.0005)
    seen = "exited" if proc.poll() is not None else "killed"
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it finished between the poll and the kill
        seen = "exited"
    proc.wait()
    return seen


def _assert_index_is(index_dir: Path, corpus: Path) -> None:
    """index_dir is a complete index of exactly `corpus`."""
    index = Index.load(index_dir, HASH)
    texts = {p.name: read_text(p) for p in corpus.iterdir()}
    assert index.sources == texts
    assert index.manifest["corpus_files"] == corpus_fingerprint_of(corpus)
    assert len(index.chunks) == index.dense.ntotal == index.manifest["chunks"]
    assert all(index.sources[c.source][c.start:c.end] == index.original_text(c) for c in index.chunks[::97])


def test_kill_9_during_build_keeps_a_complete_index(big, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(big["old"].index_dir, index_dir)
    before = tree_digest(index_dir)
    outcomes = []
    for when in (0.4, 1.2, 2.0, "staging", "staging-manifest"):
        proc = _start_build(big["new_corpus"], index_dir)
        proc.started = time.monotonic()
        seen = _kill_at(proc, index_dir, when)
        recover_interrupted(index_dir)  # what every reader does first (read_manifest)
        if tree_digest(index_dir) == before:
            outcomes.append((when, seen, "old index, byte-identical"))
            _assert_index_is(index_dir, big["old"].corpus_dir)
        else:
            outcomes.append((when, seen, "new index"))
            _assert_index_is(index_dir, big["new_corpus"])
            shutil.rmtree(index_dir)  # put the old one back so the next kill tests a real change
            shutil.copytree(big["old"].index_dir, index_dir)
    print(outcomes)
    assert sum(o[1] == "killed" for o in outcomes) >= 4, outcomes  # most kills landed mid-build
    result = _start_build(big["new_corpus"], index_dir)
    out, err = result.communicate(timeout=120)
    assert result.returncode == 0 and b"Traceback" not in err, err.decode(errors="replace")  # no stale lock
    _assert_index_is(index_dir, big["new_corpus"])


def test_between_the_two_renames_the_previous_index_comes_back(tiny, tmp_path):
    """A build killed after `index -> index.old-PID` and before `index.tmp-PID -> index`."""
    index_dir = tmp_path / "index"
    shutil.copytree(tiny.index_dir, tmp_path / "index.old-4242")
    shutil.copytree(tiny.index_dir, tmp_path / "index.tmp-4242")
    (tmp_path / "index.tmp-4242" / "chunks.jsonl").write_text("half written")
    before = tree_digest(tmp_path / "index.old-4242")
    Pipeline.load(tiny.with_(index_dir=index_dir))
    assert tree_digest(index_dir) == before


def test_no_leftover_staging_or_old_folders_after_crashes(tiny, tmp_path):
    """A later build removes the staging (`index.tmp-PID`) and previous (`index.old-PID`) folders of killed
    builds, so a crash does not leave a full copy of the index on disk (docs/reliability.md, bug 10)."""
    index_dir = tmp_path / "index"
    shutil.copytree(tiny.index_dir, index_dir)
    shutil.copytree(tiny.index_dir, tmp_path / "index.tmp-4242")
    shutil.copytree(tiny.index_dir, tmp_path / "index.old-4243")
    build_index(tiny.with_(index_dir=index_dir))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("index")) == ["index"]


def test_reader_during_the_swap_does_not_break_the_build(tiny, tmp_path, monkeypatch):
    """A reader (the app, `ask`) that loads the index in the instant between the build's two renames
    does not move the old index back under the build (recover_interrupted respects the build lock), so
    the second rename does not fail with OSError (ENOTEMPTY) and the new index is in place (bug 9)."""
    import rag.store.layout as layout_module

    index_dir = tmp_path / "index"
    shutil.copytree(tiny.index_dir, index_dir)
    config = tiny.with_(index_dir=index_dir)
    real_rename = os.rename
    calls = []

    def rename_with_a_reader_in_between(src, dst):
        real_rename(src, dst)
        calls.append(Path(dst).name)
        if Path(dst).name.startswith("index.old-"):
            try:
                read_manifest(index_dir)  # a concurrent reader, exactly between the renames
            except RagError:
                pass

    monkeypatch.setattr(layout_module.os, "rename", rename_with_a_reader_in_between)
    corpus = write_tiny_corpus(tmp_path / "corpus2")
    (corpus / "extra.txt").write_text(article_file_text("新文章", "新的内容在这里。"), encoding="utf-8")
    build_index(config.with_(corpus_dir=corpus))
    monkeypatch.undo()
    assert "extra.txt" in Index.load(index_dir, HASH).sources


def test_two_builds_at_once_one_refused_never_mixed(big, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(big["old"].index_dir, index_dir)
    corpora = [big["new_corpus"], big["old"].corpus_dir]
    procs = [_start_build(corpus, index_dir) for corpus in corpora]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    results = [(proc.returncode, *output) for proc, output in zip(procs, outputs)]
    for rc, out, err in results:
        assert b"Traceback" not in err, err.decode(errors="replace")
    codes = sorted(rc for rc, _, _ in results)
    assert codes == [0, 1], results
    loser = next(r for r in results if r[0] == 1)
    assert b"another build" in loser[2] and loser[1] == b""
    winner = corpora[[r[0] for r in results].index(0)]
    _assert_index_is(index_dir, winner)


def test_build_lock_is_per_folder_and_released(tiny, tmp_path):
    """The lock refuses a second build of the same folder only, and is released on errors."""
    from rag.store.layout import build_lock

    with build_lock(tiny.index_dir):
        with pytest.raises(IndexBusy, match="another build"):
            build_index(tiny)
        build_index(tiny.with_(index_dir=tmp_path / "other"))  # another folder: not blocked
    with pytest.raises(RagError):
        build_index(tiny.with_(corpus_dir=tmp_path / "no-such-corpus"))
    build_index(tiny)


def test_check_index_loads_without_building(tiny_config, tiny_corpus):
    with pytest.raises(IndexNotFound, match="python -m rag build"):
        check_index(tiny_config)
    assert not tiny_config.index_dir.exists()


def test_ensure_index_builds_once_then_loads(tiny_config, tiny_corpus):
    messages = []
    index, embedder, note = ensure_index(tiny_config, messages.append)
    assert embedder is not None and embedder.name == index.manifest["embedder"] and note == ""
    assert any("building the index now" in m for m in messages)
    messages.clear()
    index, embedder, note = ensure_index(tiny_config, messages.append)
    assert embedder is None and messages == [] and len(index.chunks) > 0

    (tiny_corpus / "pingdu.txt").write_text("改过的文章。\n\n本报讯 新的内容。\n", encoding="utf-8")
    index, note = check_index(tiny_config)  # stale: answered from as built, with a note
    assert "out of date" in note and "pingdu.txt changed" in note and "python -m rag build" in note
    index, embedder, note = ensure_index(tiny_config)  # the app too: no rebuild at start
    assert embedder is None and "out of date" in note and "改过的文章" not in index.sources["pingdu.txt"]
    path = tiny_config.index_dir / "manifest.json"  # an index of another format is still rebuilt
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), "format": 1}), encoding="utf-8")
    index, embedder, _ = ensure_index(tiny_config)
    assert embedder is not None and "改过的文章" in index.sources["pingdu.txt"]


def test_a_stale_index_keeps_answering_and_a_build_refreshes_only_what_changed(tiny_index, tmp_path):
    """Issue 21, item 1: editing one article no longer blocks every question; `build` over the index
    re-embeds only new or changed files, drops removed ones, keeps files added with `add`, and says so."""
    corpus = tiny_index.corpus_dir
    (corpus / "laoshan.txt").write_text(article_file_text("崂山新闻", "崂山区今年新建口袋公园12座。"), encoding="utf-8")
    build_index(tiny_index)
    extra = tmp_path / "mine" / "马拉松.txt"
    extra.parent.mkdir()
    extra.write_text(article_file_text("马拉松", "青岛马拉松共有3万名选手参赛。"), encoding="utf-8")
    add_to_index(tiny_index, [extra])
    (corpus / "pingdu.txt").write_text(article_file_text("平度新闻", "平度市今年新建口袋公园8座。"), encoding="utf-8")
    (corpus / "laoshan.txt").unlink()
    (corpus / "jimo.txt").write_text(article_file_text("即墨新闻", "即墨区今年新建口袋公园5座。"), encoding="utf-8")
    pipeline = Pipeline.load(tiny_index)
    assert "pingdu.txt changed, jimo.txt new, laoshan.txt removed" in pipeline.note
    assert "3万名" in pipeline.ask("青岛马拉松有多少名选手参赛？").text  # still answering, as built
    report = build_index(tiny_index.with_(corpus_dir=None))
    assert report.changes.summary() == "1 unchanged, 1 changed, 1 new, 1 removed" and report.kept_added == 1
    assert "refreshed: 1 unchanged, 1 changed, 1 new, 1 removed; kept 1 file added" in report.summary()
    assert report.embedded == 2  # the chunks of pingdu.txt and jimo.txt; the rest came from the cache
    index = Index.load(tiny_index.index_dir, HASH)
    assert sorted(index.sources) == ["jiaozhou.md", "jimo.txt", "pingdu.txt", "马拉松.txt"]
    assert index.manifest["added_from"] == {"马拉松.txt": str(extra)}
    assert Pipeline.load(tiny_index).note == ""
    dropped = build_index(tiny_index, keep_added=False)
    assert dropped.kept_added == 0 and "马拉松.txt" not in Index.load(tiny_index.index_dir, HASH).sources


def test_rebuild_reuses_cached_embeddings(tiny_index):
    report = build_index(tiny_index)
    assert report.embedded == 0 and report.chunks > 0
    assert report.summary().startswith("indexed 2 files → 2 articles → ")
    assert "refreshed: 2 unchanged, 0 changed, 0 new, 0 removed" in report.summary()


def test_add_embeds_only_new_articles(tiny_index, tmp_path):
    new = tmp_path / "new.txt"
    new.write_text("崂山区获评先进县\n\n本报青岛讯 崂山区清理生活垃圾66400吨，村庄覆盖率100%。", encoding="utf-8")
    before = Index.load(tiny_index.index_dir, "hash:64")
    report = add_to_index(tiny_index, [new])
    after = Index.load(tiny_index.index_dir, "hash:64")
    assert report.embedded == report.chunks >= 1
    assert len(after.chunks) == len(before.chunks) + report.chunks
    assert "new.txt" in after.sources
    assert add_to_index(tiny_index, [new]).embedded == 0  # unchanged file: nothing re-embedded


def test_second_build_at_once_fails_clearly(tiny_config):
    with build_lock(tiny_config.index_dir):
        with pytest.raises(IndexBusy, match="another build"):
            build_index(tiny_config)


def _slow_build(config):
    import rag.store.layout as layout_module

    original = layout_module.write_index

    def slow(*args, **kwargs):
        time.sleep(30)  # killed in here, before anything is swapped in
        return original(*args, **kwargs)

    layout_module.write_index = slow
    import rag.write

    rag.write.write_index = slow
    build_index(config)


def test_killed_build_leaves_previous_index_intact(tiny_index):
    before = (tiny_index.index_dir / "chunks.jsonl").read_bytes()
    (tiny_index.corpus_dir / "extra.txt").write_text("新文章\n\n本报讯 新的内容在这里。", encoding="utf-8")
    process = multiprocessing.get_context("fork").Process(target=_slow_build, args=(tiny_index,))
    process.start()
    time.sleep(1.0)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert (tiny_index.index_dir / "chunks.jsonl").read_bytes() == before
    Index.load(tiny_index.index_dir, "hash:64")
    build_index(tiny_index)  # the dead build's lock does not block the next one


def test_add_with_nothing_readable_changes_nothing(tiny_index, tmp_path):
    from rag.errors import CorpusError

    before = (tiny_index.index_dir / "manifest.json").read_bytes()
    with pytest.raises(CorpusError, match="nothing to add"):
        add_to_index(tiny_index, [tmp_path / "missing.txt"])
    assert (tiny_index.index_dir / "manifest.json").read_bytes() == before
