"""Fast tests of app.py (no server, no browser): the /ask API function, building the Blocks around a fake
pipeline, settings from the environment, no work at import."""
from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402

import app  # noqa: E402
from rag.config import Config, ConfigError  # noqa: E402
from tests.fake_answers import FakePipeline  # noqa: E402


def test_api_function_returns_the_json_contract():
    pipe = FakePipeline()
    ask = app.make_api_fn(pipe)
    result = ask("平度市累计建成了多少万亩高标准农田？", 2)
    json.dumps(result)  # JSON-serialisable
    assert {"question", "answer", "short_answer", "abstained", "citations", "latency_ms", "notes"} <= set(result)
    assert result["short_answer"] == "155.2万亩" and result["abstained"] is False
    assert result["citations"][0]["source"] == "004_c4e7dda2531a4b06.txt"
    assert {"source", "title", "text", "start", "end", "score"} <= set(result["citations"][0])
    assert isinstance(result["latency_ms"], float)
    assert pipe.calls[-1] == ("平度市累计建成了多少万亩高标准农田？", 2, ())
    with pytest.raises(gr.Error):
        app.make_api_fn(None, "no index")("q", 5)


def test_ask_endpoint_follows_the_clis_top_k_rule_and_declares_its_fields():
    """Issue 21, item 10: `/ask` with top_k=0 quietly became 1 while the CLI refused 0; the API page said only
    "Returns 1st: Any"."""
    pipe = FakePipeline()
    ask = app.make_api_fn(pipe)
    for bad in (0, -1, 101, 2.5, "3", True):
        with pytest.raises(gr.Error, match=r"top_k must be an integer in \[1, 100\]"):
            ask("平度？", bad)
    ask("平度？", 50.0)
    assert pipe.calls[-1][1] == 50
    returns = app.build_app(pipe).get_api_info()["named_endpoints"]["/ask"]["returns"][0]
    fields = returns["type"]["properties"]
    assert set(fields) == {"question", "answer", "short_answer", "abstained", "citations", "latency_ms", "notes",
                           "span", "short_span"}
    assert set(fields["citations"]["items"]["properties"]) == {"source", "title", "text", "start", "end", "score"}
    assert "short_answer: str" in returns["python_type"]["type"]


def test_build_app_with_fake_builds_without_a_server():
    demo = app.build_app(FakePipeline())
    assert isinstance(demo, gr.Blocks)
    config = demo.get_config_file()
    public = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility") == "public"}
    assert public == {"ask"}
    chatbots = [c for c in config["components"] if c["type"] == "chatbot"]
    assert len(chatbots) == 1
    props = chatbots[0]["props"]
    assert props["sanitize_html"] is True and props["render_markdown"] is False
    assert props["latex_delimiters"] == []
    assert [e["text"] for e in props["examples"]] == app.EXAMPLES  # a click asks through example_select
    chatbot_id = chatbots[0]["id"]
    assert any(tuple(t) == (chatbot_id, "example_select") for d in config["dependencies"] for t in d["targets"])
    text = json.dumps(config, ensure_ascii=False, default=str)
    assert "fake:embedder" in html.unescape(text) and "平度市累计建成了多少万亩高标准农田？" in text
    slider = next(c for c in config["components"] if c["type"] == "slider")
    assert (slider["props"]["minimum"], slider["props"]["maximum"], slider["props"]["value"]) == (1, 10, 5)


def test_build_app_after_load_error_shows_the_message():
    demo = app.build_app(None, load_error="No index at ./index <x>")
    text = json.dumps(demo.get_config_file(), ensure_ascii=False, default=str)
    assert "No index at ./index &#60;x&#62;" in text


def test_config_from_env(tmp_path):
    """The app and the CLI read the environment through one Config.from_env (app: defaults next to app.py)."""
    env = {"RAG_INDEX": str(tmp_path / "i"), "RAG_CORPUS": str(tmp_path / "c"), "RAG_EMBEDDER": "hash:16",
           "RAG_READER": "none"}
    config = Config.from_env(env, root=app.HERE)
    assert config.index_dir == tmp_path / "i" and config.corpus_dir == tmp_path / "c"
    assert config.embedder == "hash:16" and config.reader == "none"
    default = Config.from_env({}, root=app.HERE)
    # No corpus named: the index's own (recorded) corpus is used; a new index is built from seeds/.
    assert default.index_dir == ROOT / "index" and default.corpus_dir is None
    assert default.default_corpus == ROOT / "seeds"
    cli = Config.from_env({}, index_dir="ix", top_k=3, corpus_dir=None)  # flags override, None = not given
    assert cli.index_dir == Path("ix") and cli.top_k == 3 and cli.corpus_dir is None
    assert Config.from_env({"RAG_INDEX": "a"}, index_dir="b").index_dir == Path("b")
    with pytest.raises(ConfigError, match="unknown setting"):
        Config.from_env({}, colour="red")
    with pytest.raises(ConfigError, match="embedder must be"):
        Config.from_env({"RAG_EMBEDDER": "bogus"})


def test_load_pipeline_reports_errors_instead_of_raising(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "none"))
    monkeypatch.setenv("RAG_CORPUS", str(tmp_path / "no-corpus"))
    monkeypatch.setenv("RAG_EMBEDDER", "hash:16")
    pipeline, error = app.load_pipeline()
    assert pipeline is None and error
    monkeypatch.setenv("RAG_EMBEDDER", "nonsense-embedder")
    pipeline, error = app.load_pipeline()
    assert pipeline is None and error


def test_import_does_no_work():
    src = (ROOT / "app.py").read_text(encoding="utf-8")
    assert "build_app(" in src and "\nif __name__ == \"__main__\":\n    main()" in src
    assert not any(isinstance(v, gr.Blocks) for v in vars(app).values())


def test_warm_up_is_logged_and_a_failure_only_logged():
    lines = []

    class Warm:
        def warm_up(self):
            return 1.5

    class Broken:
        def warm_up(self):
            raise OSError("cannot read cedict_ts.u8")

    app.warm_up(Warm(), lines.append)
    app.warm_up(Broken(), lines.append)
    assert lines[0] == "warmed up in 1.5 s"
    assert "warm-up skipped (cannot read cedict_ts.u8)" in lines[1]
