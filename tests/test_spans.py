"""From the reader's spans to the answer (rag/spans.py): pure functions on hand-made spans and sentences."""
from rag.chunking import answer_sentences
from rag.reader_model import ReaderSpan
from rag.sentences import SentenceHit
import pytest

from rag.spans import Candidate, combine, says_no_answer, sentence_around, shows_short, trimmed, with_unit
from rag.types import Chunk

TEXT = "胶州市探索成立片区联合党委。全市共成立5个片区联合党委，覆盖23个村庄。2023年全市完成治理任务。"


def hits_for(chunk: Chunk, rank: int, scores: list[float]) -> list[SentenceHit]:
    return [SentenceHit(chunk, rank, a, b, score, 0.5) for (a, b), score in zip(answer_sentences(chunk.text), scores)]


def test_the_reader_overrules_the_sentence_scorer_where_its_span_is_far_better():
    """The scorer prefers the first sentence (it repeats the question's words); the reader finds the number
    in the second: the answer sentence is the one holding the reader's span."""
    chunk = Chunk(text=TEXT, source="a.txt", title="片区联合党委", start=0, end=len(TEXT))
    hits = hits_for(chunk, 0, [9.0, 6.5, 2.0])
    five = TEXT.index("5个")
    spans = [ReaderSpan(0, five, five + 2, score=12.0, null_score=-3.0, probability=0.9),
             ReaderSpan(0, 0, 3, score=4.0, null_score=-3.0, probability=0.05)]
    best = combine(spans, hits, [0], rank_weight=1.0, sentence_weight=0.25)[0]
    assert TEXT[best.span.start:best.span.end] == "5个"
    start, end = sentence_around(TEXT, best.span.start, best.span.end)
    assert TEXT[start:end] == "全市共成立5个片区联合党委，覆盖23个村庄。"
    assert best.sentence_score == -2.5 and best.combined == 12.0 - 0.25 * 2.5


def test_retrieval_rank_breaks_a_near_tie_between_passages():
    first = Chunk(text="常住人口912人。", source="a.txt", title="", start=0, end=9)
    second = Chunk(text="常住人口1200人。", source="b.txt", title="", start=0, end=10)
    hits = hits_for(first, 0, [5.0]) + hits_for(second, 1, [5.0])
    spans = [ReaderSpan(1, 4, 9, score=8.5, null_score=0.0, probability=0.6),
             ReaderSpan(0, 4, 8, score=8.0, null_score=0.0, probability=0.6)]
    assert combine(spans, hits, [0, 1], rank_weight=1.0, sentence_weight=0.0)[0].rank == 0
    assert combine(spans, hits, [0, 1], rank_weight=0.0, sentence_weight=0.0)[0].rank == 1


def test_sentence_around_joins_the_sentences_a_span_crosses():
    a, b = TEXT.index("党委。") , TEXT.index("5个")
    start, end = sentence_around(TEXT, a, b + 2)
    assert TEXT[start:end] == TEXT[:TEXT.index("村庄。") + 3]


def test_trimmed_drops_edge_punctuation_and_keeps_title_marks_that_close_inside():
    text = "在电影《第一次不是你》中，"
    assert text[slice(*trimmed(text, 3, len(text)))] == "《第一次不是你》中"
    assert text[slice(*trimmed(text, 3, 11))] == "《第一次不是你》"
    assert trimmed("，。", 0, 2) is None


@pytest.mark.parametrize("text, span, shown", [
    ("共查处128起案件", "128", "128起"),
    ("累计建成155.2万亩", "155.2", "155.2万亩"),
    ("于2020年6月成立", "2020年6", "2020年6月"),
    ("有3400余名党员", "3400", "3400余名"),
    ("组建率提升至89.09%，", "89.09", "89.09%"),
    ("辖域面积49.4平方公里", "49.4", "49.4平方公里"),
    ("1960年出生", "1960年", "1960年"),  # already whole
    ("位列全省第一", "第一", "第一"),  # no number
    ("编号A380客机", "A380", "A380"),  # no unit after it
])
def test_a_short_answer_takes_the_unit_that_follows_its_number(text, span, shown):
    start = text.index(span)
    a, b = with_unit(text, start, start + len(span))
    assert text[a:b] == shown


def test_short_answer_shown_only_when_sure_and_no_answer_by_margin():
    sure = Candidate(ReaderSpan(0, 0, 2, 10.0, 0.0, 0.8), 0, 0.0, 10.0)
    unsure = Candidate(ReaderSpan(0, 0, 2, -30.0, 0.0, 0.2), 0, 0.0, -30.0)
    assert shows_short(sure, 0.5) and not shows_short(unsure, 0.5)
    assert says_no_answer([unsure], chinese=True) and not says_no_answer([sure, unsure], chinese=True)
    assert says_no_answer([])
    # An English question naming something the corpus has no word for needs the reader to prefer a span.
    doubtful = Candidate(ReaderSpan(0, 0, 2, -5.0, 0.0, 0.1), 0, 0.0, -5.0)
    assert not says_no_answer([doubtful], chinese=False) and says_no_answer([doubtful], False, unknown_name=True)
    assert not says_no_answer([sure], False, unknown_name=True)


def test_an_english_answer_from_an_article_holding_the_question_needs_a_smaller_margin():
    from rag.spans import (ENGLISH_NO_ANSWER_MARGIN, ENGLISH_SUPPORTED_MARGIN, ENGLISH_SUPPORTED_SHARE,
                           UNKNOWN_NAME_MARGIN, no_answer_floor)

    weak = Candidate(ReaderSpan(0, 0, 2, -11.0, 0.0, 0.05), 0, 0.0, -11.0)  # right answers to English questions
    assert ENGLISH_SUPPORTED_MARGIN < weak.margin < ENGLISH_NO_ANSWER_MARGIN    # the reader never saw score so
    assert says_no_answer([weak], chinese=False, support=ENGLISH_SUPPORTED_SHARE - 0.1)
    assert not says_no_answer([weak], chinese=False, support=ENGLISH_SUPPORTED_SHARE)
    assert says_no_answer([weak], chinese=True, support=1.0)  # a Chinese question: the support plays no part
    assert no_answer_floor(False, unknown_name=True, support=1.0) == UNKNOWN_NAME_MARGIN  # a name the corpus lacks
