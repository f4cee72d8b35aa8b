import pytest

from rag.errors import EmbedderError
from rag.pipeline import Pipeline


@pytest.fixture(scope="module")
def tiny_reader_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from tests.tiny_models import build_tiny_qa_model

    return build_tiny_qa_model(tmp_path_factory.mktemp("qa") / "tiny-qa")


def test_reader_span_is_a_verbatim_slice(tiny_reader_dir):
    from rag.reader import Reader

    reader = Reader(str(tiny_reader_dir))
    context = "平度市累计建成高标准农田155.2万亩，粮食产量稳定在29亿斤以上。"
    span = reader.read("平度市建成了多少万亩高标准农田？", context)
    assert span.text == context[span.start:span.end] and 0 <= span.score <= 1


def test_pipeline_uses_the_reader_when_configured(tiny_index, tiny_reader_dir):
    pipeline = Pipeline.load(tiny_index.with_(reader=str(tiny_reader_dir)))
    answer = pipeline.ask("澳门路片区查处电动车不戴头盔多少起？")
    assert answer.short_answer and answer.short_answer in answer.text
    source = pipeline.index.sources[answer.chunk.source]
    assert source[answer.short_start:answer.short_end] == answer.short_answer


def test_unknown_reader_is_a_clear_error(tiny_index, tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderError, match="cannot load reader model"):
        Pipeline.load(tiny_index.with_(reader=str(tmp_path / "missing")))


def test_reader_does_not_override_abstention(tiny_index, tiny_reader_dir):
    pipeline = Pipeline.load(tiny_index.with_(reader=str(tiny_reader_dir)))
    assert pipeline.ask("青岛地铁1号线是哪一年开通的？").abstained
