"""The whole pipeline on Milvus Lite, started in process on a .db folder under tmp_path (no network)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from rag.config import Config, ConfigError
from rag.errors import IndexMismatch, IndexNotFound

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

QUESTION = "平度市累计建成了多少万亩高标准农田？"


@pytest.fixture
def milvus_config(tiny_config: Config, tmp_path) -> Config:
    return tiny_config.with_(store="milvus", milvus_uri=str(tmp_path / "milvus" / "rag.db"), collection="news")


@pytest.fixture
def milvus_index(milvus_config: Config) -> Config:
    from rag.build import build_index

    build_index(milvus_config)
    return milvus_config


def closed_port() -> int:
    with socket.socket() as sock:  # a loopback port nobody listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_answers_and_citations_match_the_faiss_path(milvus_index: Config):
    from rag.build import build_index
    from rag.pipeline import Pipeline

    faiss_config = milvus_index.with_(store="faiss")
    build_index(faiss_config)
    on_milvus, on_faiss = Pipeline.load(milvus_index), Pipeline.load(faiss_config)
    for question in (QUESTION, "胶州市探索成立了几个片区联合党委？", "澳门路农贸市场片区查处了多少起不戴头盔？"):
        a, b = on_milvus.ask(question), on_faiss.ask(question)
        assert (a.text, a.short_answer, a.span, a.abstained) == (b.text, b.short_answer, b.span, b.abstained)
        assert [(c.source, c.start, c.end) for c in a.citations] == [(c.source, c.start, c.end) for c in b.citations]
        assert [on_milvus.original_text(c) for c in a.citations] == [on_faiss.original_text(c) for c in b.citations]
    assert "155.2万亩" in on_milvus.ask(QUESTION).short_answer
    assert on_milvus.info["chunks"] == on_faiss.info["chunks"] and "#news" in on_milvus.info["index_dir"]


def test_rebuild_switches_the_alias_and_a_killed_build_leaves_the_old_one(milvus_index: Config, monkeypatch):
    from rag.store import milvus as milvus_store
    from rag.build import build_index
    from rag.pipeline import Pipeline

    client = milvus_store.connect(milvus_index.milvus_uri)
    first = milvus_store.target(client, "news")
    reader = Pipeline.load(milvus_index)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(milvus_store, "insert_vocabulary", killed)
    with pytest.raises(KeyboardInterrupt):
        build_index(milvus_index)
    assert milvus_store.target(client, "news") == first
    assert "155.2万亩" in reader.ask(QUESTION).short_answer  # the old set still serves
    monkeypatch.undo()
    build_index(milvus_index)
    second = milvus_store.target(client, "news")
    assert second != first
    assert not [name for name in client.list_collections() if not name.startswith(second)]  # old and half-built gone
    reader.index.checked = 0.0  # a running reader follows the alias on its next question
    assert "155.2万亩" in reader.ask(QUESTION).short_answer and reader.index.base == second


def test_add_inserts_and_replaces_by_source(milvus_index: Config, tmp_path):
    from rag.build import add_to_index
    from rag.pipeline import Pipeline

    before = Pipeline.load(milvus_index).info
    new = tmp_path / "new" / "laoshan.txt"
    new.parent.mkdir()
    new.write_text("崂山区垃圾分类获评先进\n\n崂山区全区建成垃圾分类投放点1260处，配备分类收运车辆86辆。\n", encoding="utf-8")
    add_to_index(milvus_index, [new])
    pipeline = Pipeline.load(milvus_index)
    assert pipeline.info["chunks"] == before["chunks"] + 1
    assert "1260" in pipeline.ask("崂山区建成了多少处垃圾分类投放点？").text
    assert add_to_index(milvus_index, [new]).add_summary().startswith("added 0 sources, replaced 0, kept 3")
    new.write_text("崂山区垃圾分类获评先进\n\n崂山区全区建成垃圾分类投放点1500处。\n", encoding="utf-8")
    # The same name with other text: refused, as the index folder refuses it (issue 21, item 3) ...
    from rag.errors import CorpusError

    with pytest.raises(CorpusError, match=r"1 file to add has the name of a source .*laoshan\.txt; nothing was "
                                          r"changed\. Add with --replace"):
        add_to_index(milvus_index, [new])
    assert "1260" in Pipeline.load(milvus_index).ask("崂山区建成了多少处垃圾分类投放点？").text
    # ... unless --replace: its old chunks are deleted, not duplicated.
    report = add_to_index(milvus_index, [new], replace=True)
    assert report.add_summary().startswith("added 0 sources, replaced 1, kept 2")
    pipeline = Pipeline.load(milvus_index)
    assert pipeline.info["chunks"] == before["chunks"] + 1
    answer = pipeline.ask("崂山区建成了多少处垃圾分类投放点？")
    assert "1500" in answer.text and all("1260" not in pipeline.original_text(c) for c in answer.citations)


def test_manifest_is_checked_on_load(milvus_index: Config, tmp_path):
    from rag.pipeline import Pipeline

    with pytest.raises(IndexMismatch, match="was built with embedder 'hash:64'.*--store milvus"):
        Pipeline.load(milvus_index.with_(embedder="hash:32"))
    with pytest.raises(IndexNotFound, match="no index other at .*rag build --store milvus"):
        Pipeline.load(milvus_index.with_(collection="other"))
    (milvus_index.corpus_dir / "pingdu.txt").write_text("改过的文章。\n", encoding="utf-8")
    note = Pipeline.load(milvus_index).note  # stale: answered from as built, the note says how to refresh
    assert "pingdu.txt changed" in note and f"--store milvus --milvus-uri {milvus_index.milvus_uri}" in note


def test_unreachable_milvus_is_a_clear_error_within_seconds(tiny_config: Config):
    from rag.store.milvus import MilvusUnavailable
    from rag.pipeline import Pipeline

    uri = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(MilvusUnavailable, match=f"cannot reach Milvus at {uri}.*RAG_MILVUS_URI"):
        Pipeline.load(tiny_config.with_(store="milvus", milvus_uri=uri))
    done = subprocess.run([sys.executable, "-m", "rag", "ask", "--store", "milvus", "--milvus-uri", uri,
                           "--embedder", "hash:64", QUESTION], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and f"error: cannot reach Milvus at {uri}" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 15


def test_app_page_opens_and_says_why(tiny_config: Config, monkeypatch):
    import app

    uri = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("RAG_STORE", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", uri)
    monkeypatch.setenv("RAG_CORPUS", str(tiny_config.corpus_dir))
    monkeypatch.setenv("RAG_EMBEDDER", "hash:64")
    pipeline, error = app.load_pipeline()
    assert pipeline is None and f"cannot reach Milvus at {uri}" in error
    assert "cannot reach Milvus" in app.status_html(None, error)
    app.build_app(None, load_error=error)


@pytest.mark.parametrize("settings, message", [
    ({"store": "milvus"}, "needs a URI"),
    ({"store": "milvus", "milvus_uri": "milvus.sqlite"}, "ending in .db"),
    ({"store": "milvus", "milvus_uri": "a.db", "collection": "news__v1"}, "collection must be"),
    ({"store": "elastic"}, "store must be one of"),
])
def test_bad_store_settings(settings, message):
    with pytest.raises(ConfigError, match=message):
        Config(**settings)


def test_faiss_path_does_not_import_pymilvus(tiny_index: Config):
    code = ("import sys; from rag.pipeline import Pipeline; from rag.config import Config; "
            f"p = Pipeline.load(Config(corpus_dir={str(tiny_index.corpus_dir)!r}, index_dir={str(tiny_index.index_dir)!r}, "
            "embedder='hash:64', chunk_size=60)); p.ask('平度'); import app; "
            "sys.exit(1 if 'pymilvus' in sys.modules or 'milvus_lite' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
