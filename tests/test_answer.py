"""Fast tests of the answer decision (sentence, abstention rules, short answer, offsets) on a hand-made passage."""
from __future__ import annotations

from rag.answer import NO_ANSWER, extract_answer
from rag.config import Config
from tests.fake_answers import FISH, make_passage

ABSTAIN_COVERAGE = Config().abstain_threshold


class FakeReader:
    """Proposes one fixed span of the passage, confidently (the real reader is tested in test_reader.py)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def run(self, question, contexts):
        from rag.reader_model import ReaderSpan

        start = contexts[0].index(self.answer)
        span = ReaderSpan(0, start, start + len(self.answer), score=10.0, null_score=0.0, probability=0.9)

        class Reading:
            def spans(self, per_window=1, within=None):
                inside = not within or (within[0] <= span.start and span.end <= within[1])
                return [span] if inside else []
        return Reading()


def test_offsets_map_back_to_the_chunk():
    answer = extract_answer("黄鳍紫鱼体长多少？", [FISH], 5, ABSTAIN_COVERAGE,
                            reader=FakeReader("50公分"))
    assert not answer.abstained
    assert answer.short_answer == "50公分"
    assert answer.text in FISH.text and answer.short_answer in answer.text
    assert FISH.text[answer.span.start - FISH.start:answer.span.end - FISH.start] == answer.text
    assert FISH.text[answer.short_span.start - FISH.start:answer.short_span.end - FISH.start] == answer.short_answer


def test_abstains_when_the_question_content_is_missing():
    answer = extract_answer("青岛地铁1号线是哪一年开通的？", [FISH], 5, ABSTAIN_COVERAGE)
    assert answer.abstained and answer.text == NO_ANSWER and answer.score < ABSTAIN_COVERAGE
    assert answer.citations == (FISH,)
    never = extract_answer("青岛地铁1号线是哪一年开通的？", [FISH], 5, -1.0)
    assert not never.abstained


def test_english_question_is_not_abstained_on_lexical_coverage():
    answer = extract_answer("How long is the fish?", [FISH], 5, ABSTAIN_COVERAGE)
    assert not answer.abstained and answer.chunk == FISH


def test_no_chunks():
    assert extract_answer("黄鳍紫鱼体长多少？", [], 5, ABSTAIN_COVERAGE).abstained


def test_a_place_the_question_names_must_be_in_the_answers_article():
    pingdu = make_passage("平度市累计建成高标准农田155.2万亩。", title="平度农田")
    assert extract_answer("胶州市累计建成了多少万亩高标准农田？", [pingdu], 5, ABSTAIN_COVERAGE).abstained
    assert not extract_answer("平度市累计建成了多少万亩高标准农田？", [pingdu], 5, ABSTAIN_COVERAGE).abstained
    # A threshold ≤ 0 turns every abstention rule off, the place rule too.
    assert not extract_answer("胶州市累计建成了多少万亩高标准农田？", [pingdu], 5, 0.0).abstained
    xinan = make_passage("辛安街道辖域面积49.4平方公里，人口20万。", title="辛安街道")
    assert extract_answer("柏林的人口是多少？", [xinan], 5, ABSTAIN_COVERAGE).abstained  # 柏林: a name the article lacks
    assert not extract_answer("辛安街道的人口是多少？", [xinan], 5, ABSTAIN_COVERAGE).abstained


def test_answer_to_dict_gives_spans_or_none():
    answer = extract_answer("黄鳍紫鱼体长多少？", [FISH], 5, ABSTAIN_COVERAGE, reader=FakeReader("50公分"))
    data = answer.to_dict()
    assert data["span"] == {"start": answer.span.start, "end": answer.span.end}
    assert data["short_span"]["end"] - data["short_span"]["start"] == len("50公分")
    assert data["citations"][0]["text"] == FISH.text and data["latency_ms"] is None
    abstention = extract_answer("青岛地铁1号线是哪一年开通的？", [FISH], 5, ABSTAIN_COVERAGE).to_dict()
    assert abstention["abstained"] and abstention["span"] is None and abstention["short_span"] is None


class NoAnswerReader:
    """A reader that finds no answer: its best span scores far below its no-answer score."""

    def run(self, question, contexts):
        from rag.reader_model import ReaderSpan

        span = ReaderSpan(0, 0, 2, score=-30.0, null_score=0.0, probability=0.01)

        class Reading:
            def spans(self, per_window=1, within=None):
                return [span]
        return Reading()


def test_the_readers_no_answer_abstains_unless_abstention_is_off():
    assert extract_answer("黄鳍紫鱼体长多少？", [FISH], 5, ABSTAIN_COVERAGE, reader=NoAnswerReader()).abstained
    assert not extract_answer("黄鳍紫鱼体长多少？", [FISH], 5, 0.0, reader=NoAnswerReader()).abstained


class RankedReader:
    """Proposes one span in each passage it reads, surest in the first passage (`answers[i]` in passage i)."""

    def __init__(self, *answers: str) -> None:
        self.answers = answers

    def run(self, question, contexts):
        from rag.reader_model import ReaderSpan

        spans = [ReaderSpan(i, text.index(answer), text.index(answer) + len(answer), score=10.0 - 3 * i,
                            null_score=0.0, probability=0.9)
                 for i, (text, answer) in enumerate(zip(contexts, self.answers))]

        class Reading:
            def spans(self, per_window=1, within=None):
                return spans
        return Reading()


def test_the_place_rule_picks_the_best_candidate_from_an_article_that_names_the_place():
    jiaozhou = make_passage("胶州市累计建成高标准农田46万亩。", source="a.txt", title="胶州农田")
    pingdu = make_passage("平度市累计建成高标准农田155.2万亩。", source="b.txt", title="平度农田")
    reader = RankedReader("46万亩", "155.2万亩")  # surer of the first-ranked passage, about 胶州
    answer = extract_answer("平度市累计建成了多少万亩高标准农田？", [jiaozhou, pingdu], 5, ABSTAIN_COVERAGE, reader=reader)
    assert not answer.abstained and answer.chunk == pingdu and answer.short_answer == "155.2万亩"
    assert answer.citations[0] == pingdu  # the answer's passage is cited first
    # No candidate from an article about 青岛: an abstention, not the surest span.
    assert extract_answer("青岛市累计建成了多少万亩高标准农田？", [jiaozhou, pingdu], 5, ABSTAIN_COVERAGE,
                          reader=reader).abstained
    # With abstention off, the surest span wins as before.
    assert extract_answer("平度市累计建成了多少万亩高标准农田？", [jiaozhou, pingdu], 5, 0.0,
                          reader=reader).chunk == jiaozhou


def test_the_names_rule_picks_the_candidate_from_the_article_an_english_question_names():
    from rag.crosslingual import build_lexicon
    from rag.question import analyse

    laixi = make_passage("莱西市培育农民专业合作社120余家。", source="a.txt", title="莱西合作社")
    pingdu = make_passage("平度市培育农民专业合作社5627家。", source="b.txt", title="平度合作社")
    lexicon = build_lexicon([laixi.text, pingdu.text])
    question = analyse("How many farmers' cooperatives has Pingdu cultivated?", lexicon)
    reader = RankedReader("120余家", "5627家")  # surer of the first-ranked passage, about 莱西
    answer = extract_answer(question, [laixi, pingdu], 5, ABSTAIN_COVERAGE, reader=reader)
    assert not answer.abstained and answer.chunk == pingdu and answer.short_answer == "5627家"


def test_an_english_question_understood_as_nothing_gets_the_strict_margin():
    weak = RankedReader("50公分")
    weak.run = _with_margin(weak.run, -10.0)  # between the strict −6 and the lenient −13
    assert extract_answer("What is it, then?", [FISH], 5, ABSTAIN_COVERAGE, reader=weak).abstained


def _with_margin(run, margin):
    from dataclasses import replace

    def changed(question, contexts):
        reading = run(question, contexts)
        spans = [replace(s, score=margin, null_score=0.0) for s in reading.spans()]

        class Reading:
            def spans(self, per_window=1, within=None):
                return spans
        return Reading()
    return changed


def test_an_upload_named_like_a_shared_file_is_judged_on_its_own_article():
    from rag.types import Chunk

    shared = make_passage("胶州市累计建成高标准农田46万亩。", source="news.txt", title="农田")
    text = "平度市累计建成高标准农田155.2万亩。"
    upload = Chunk(text=text, source="news.txt", title="农田", start=0, end=len(text), metadata={"uploaded": "1"})
    answer = extract_answer("平度市累计建成了多少万亩高标准农田？", [shared, upload], 5, ABSTAIN_COVERAGE,
                            source_text=lambda chunk: chunk.text, reader=RankedReader("46万亩", "155.2万亩"))
    assert not answer.abstained and answer.chunk == upload


class AskedReader(RankedReader):
    """A RankedReader that keeps the questions it was given."""

    def __init__(self, *answers: str) -> None:
        super().__init__(*answers)
        self.asked = []

    def run(self, question, contexts):
        self.asked.append(question)
        return super().run(question, contexts)


def test_a_chinese_question_is_read_with_its_romanised_names_in_the_passages_words():
    from rag.crosslingual import build_lexicon
    from rag.question import analyse

    pingdu = make_passage("平度市培育农民专业合作社5627家。", source="b.txt", title="平度合作社")
    lexicon = build_lexicon([pingdu.text])
    reader = AskedReader("5627家")
    answer = extract_answer(analyse("Pingdu 的农民合作社有多少家？", lexicon), [pingdu], 5, ABSTAIN_COVERAGE, reader=reader)
    assert answer.short_answer == "5627家" and reader.asked == ["平度市 的农民合作社有多少家?"]
    # Its other Latin words stay as the user wrote them, and a question without any is read exactly as asked.
    for question in ("平度的OK农民合作社有多少家？", "平度农民合作社有多少家？"):
        reader.asked.clear()
        extract_answer(analyse(question, lexicon), [pingdu], 5, 0.0, reader=reader)
        assert reader.asked == [question]
