"""Pipeline: end to end on the committed seed index with the real default embedder (marked slow), bad input,
and hostile questions on a tiny hash:64 index (with the invariants every Answer keeps, tests/helpers.py)."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.config import Config, ConfigError
from rag.dialogue import resolve_follow_up
from rag.errors import IndexNotFound
from rag.pipeline import Pipeline
from rag.question import EMPTY_QUESTION, clean_question
from tests.conftest import ROOT
from tests.helpers import LINE_QUESTIONS, check_answer


@pytest.fixture(scope="module")
def seeds_pipeline():
    return Pipeline.load(Config(corpus_dir=ROOT / "seeds", index_dir=ROOT / "index"))


@pytest.mark.slow
def test_answer_with_short_span_and_citations(seeds_pipeline):
    answer = seeds_pipeline.ask("平度市累计建成了多少万亩高标准农田？")
    assert not answer.abstained
    assert answer.short_answer == "155.2万亩"
    assert answer.chunk.source == "004_c4e7dda2531a4b06.txt"
    source = seeds_pipeline.index.sources[answer.chunk.source]
    assert source[answer.short_span.start:answer.short_span.end] == "155.2万亩"  # offsets point into the original file
    assert answer.text in answer.chunk.text
    assert answer.citations[0] == answer.chunk and len(answer.citations) == 5


@pytest.mark.slow
def test_json_contract(seeds_pipeline):
    answer = seeds_pipeline.ask("辛安街道辖域面积是多少？", top_k=3)
    data = answer.to_dict(seeds_pipeline.original_text)
    assert set(data) >= {"question", "answer", "short_answer", "abstained", "citations", "latency_ms", "span", "short_span"}
    assert data["latency_ms"] > 0 and data["span"]["end"] > data["span"]["start"]
    assert len(data["citations"]) == 3
    first = data["citations"][0]
    assert set(first) >= {"source", "title", "text", "start", "end", "score"}
    original = seeds_pipeline.index.sources[first["source"]]
    assert first["text"] == original[first["start"]:first["end"]]
    json.dumps(data, ensure_ascii=False)


@pytest.mark.slow
def test_english_question_finds_the_chinese_article(seeds_pipeline):
    answer = seeds_pipeline.ask("Which city signed China's first government-subsidised egg futures income insurance?")
    assert answer.citations[0].source == "000_4b1c3b504440ce06.txt"


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01", "😀😀", "？？？", None])
@pytest.mark.slow
def test_empty_or_garbage_question_gets_a_message(seeds_pipeline, question):
    answer = seeds_pipeline.ask(question)
    assert answer.abstained and answer.text


@pytest.mark.slow
def test_huge_question_is_truncated_with_a_note(seeds_pipeline):
    answer = seeds_pipeline.ask("平度市" * 50_000)
    assert any("truncated" in note for note in answer.notes)


@pytest.mark.slow
def test_html_question_is_plain_text(seeds_pipeline):
    answer = seeds_pipeline.ask("<script>alert(1)</script>辛安街道辖域面积是多少？")
    assert answer.question.startswith("<script>")  # kept as text; escaping is the renderer's job
    assert not answer.abstained


@pytest.mark.slow
def test_follow_up_is_resolved_against_history(seeds_pipeline):
    assert resolve_follow_up("那平度呢？", ["胶州市探索成立了几个片区联合党委？"]) == "平度市探索成立了几个片区联合党委？"
    answer = seeds_pipeline.ask("它的面积呢？", history=["辛安街道有什么荣誉？"])
    assert "49.4平方公里" in answer.text
    assert any("辛安街道" in note for note in answer.notes)


def test_clean_question_strips_control_characters():
    text, notes = clean_question("平度\x00市\n\n农田", 100)
    assert text == "平度 市 农田" and notes == ()


def test_missing_index_without_build(tmp_path):
    with pytest.raises(IndexNotFound, match="python -m rag build"):
        Pipeline.load(Config(corpus_dir=tmp_path, index_dir=tmp_path / "index"))


def test_missing_index_is_built_when_asked(tiny_config):
    messages = []
    pipeline = Pipeline.load(tiny_config, build_if_needed=True, progress=messages.append)
    assert pipeline.info["chunks"] > 0 and any("building" in m for m in messages)


def test_config_is_validated():
    with pytest.raises(ConfigError, match="top_k"):
        Config(top_k=0)
    with pytest.raises(ConfigError, match="unknown setting"):
        Config().with_(colour="red")


@pytest.mark.slow
def test_question_about_another_place_is_not_answered_from_this_one(seeds_pipeline):
    answer = seeds_pipeline.ask("胶州累计建成了多少万亩高标准农田？")  # only 平度's figure is in the articles
    assert answer.abstained and answer.citations


@pytest.mark.slow
def test_follow_up_about_a_place_the_articles_do_not_cover(seeds_pipeline):
    answer = seeds_pipeline.ask("那胶州呢？", history=["平度市累计建成了多少万亩高标准农田？"])
    assert answer.abstained


@pytest.mark.slow
def test_follow_up_place_must_be_in_the_answers_article(seeds_pipeline):
    # 平度 appears in the same page file as the 胶州 story, but not in the 胶州 article itself.
    answer = seeds_pipeline.ask("那平度呢？", history=["胶州市探索成立了几个片区联合党委？"])
    assert answer.abstained or "平度" in seeds_pipeline.index.article_text(answer.chunk)


def test_unknown_embedder_spec_is_a_config_error():
    with pytest.raises(ConfigError, match="embedder must be"):
        Config(embedder="bogus")


# ----------------------------------------------------------------------------------------------
# Hostile questions (tiny index, hash:64 embedder)
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pipeline(tiny) -> Pipeline:
    return Pipeline.load(tiny)


@pytest.mark.parametrize("name", sorted(LINE_QUESTIONS))
def test_pipeline_answers_hostile_questions(pipeline, name):
    question = LINE_QUESTIONS[name]
    answer = pipeline.ask(question)
    check_answer(answer, pipeline, question)
    if name in ("empty", "whitespace", "nul_only", "emoji_only", "punctuation_only", "combining_only"):
        assert answer.abstained and answer.text == EMPTY_QUESTION and not answer.citations
    if name == "huge":
        assert any("truncated" in note for note in answer.notes)
    if name in ("html", "markdown", "sql"):
        assert answer.question == " ".join(question.split())  # kept as plain text, not interpreted


@pytest.mark.parametrize("question", ["\ud800", "平度\ud800市累计建成了多少万亩农田？", "\udcff农田", "农田\udfff"],
                         ids=["lone_high", "high_inside", "escaped_byte", "lone_low"])
def test_pipeline_lone_surrogates(pipeline, question):
    """A lone surrogate neither makes Pipeline.ask raise UnicodeEncodeError (OpenCC encodes the text
    as UTF-8) nor, alone, yields an Answer whose JSON cannot be written as UTF-8 (docs/reliability.md, bug 1)."""
    answer = pipeline.ask(question)
    assert "\ud800" not in answer.question and "\udcff" not in answer.question
    check_answer(answer, pipeline, question.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


def test_pipeline_odd_types_and_top_k(pipeline):
    for question in (None, 12345, 3.5, b"\xe5\xb9\xb3\xe5\xba\xa6", ["平度"], object()):
        check_answer(pipeline.ask(question), pipeline, question)
    for top_k in (0, -5, 1, 1000):
        answer = pipeline.ask("平度市累计建成了多少万亩高标准农田？", top_k=top_k)
        assert 1 <= len(answer.citations) <= 100


_WORDS = ["平度", "胶州", "农田", "高标准", "万亩", "党委", "片区", "头盔", "多少", "几个", "？", " ", "155.2",
          "澳门路", "粮食", "院士", "专家", "工作站", "电动车", "the", "SELECT", "<b>", "\n", "\x00", "😀"]
QUESTIONS = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(_WORDS), max_size=30).map("".join),
    st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=3)), max_size=20).map("".join),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=QUESTIONS, top_k=st.one_of(st.none(), st.integers(min_value=1, max_value=8)))
def test_property_any_string_gives_a_well_formed_answer(pipeline, question, top_k):
    answer = pipeline.ask(question, top_k=top_k)
    check_answer(answer, pipeline, question, top_k)


def test_property_check_sees_answers(pipeline):
    """The property above is not vacuous: corpus words give real answers whose offsets are checked."""
    answer = pipeline.ask("平度市累计建成了多少万亩高标准农田？")
    assert not answer.abstained and answer.short_answer == "155.2万亩"
    check_answer(answer, pipeline, "平度市累计建成了多少万亩高标准农田？")
    # The answer sentence was cut by a page column around a photo caption: two pieces, in order.
    source = pipeline.index.sources[answer.chunk.source]
    assert source[answer.short_span.start:answer.short_span.end] == "155.2万亩"


def test_a_follow_up_with_nothing_before_it_asks_for_a_full_question(pipeline):
    """Issue 21, item 5: "那平度呢？" as the first question answered a random 平度 sentence."""
    from rag.dialogue import FOLLOW_UP_WITHOUT_CONTEXT

    first = pipeline.ask("那平度呢？")
    assert first.abstained and first.text == FOLLOW_UP_WITHOUT_CONTEXT and first.citations == ()
    check_answer(first, pipeline, "那平度呢？")
    after = pipeline.ask("那平度呢？", history=["胶州市探索成立了几个片区联合党委？"])
    assert any("理解为" in note for note in after.notes)


def test_warm_up_reads_what_a_first_english_question_or_follow_up_waits_for(pipeline, monkeypatch):
    import sys

    import rag.cedict
    from rag.lexical import tagged_words

    looked_up = []
    monkeypatch.setattr(rag.cedict, "common_english", lambda word: looked_up.append(word) or False)
    tagged_words.cache_clear()
    assert pipeline.warm_up() >= 0
    assert looked_up and "jieba.posseg" in sys.modules and tagged_words.cache_info().currsize == 1
