"""The answer decision: which sentence answers, whether to abstain, and the short answer inside it.

Nothing is generated: the sentence is copied from the chunk (rag.sentences scores the candidates), the
short answer is the reader's span inside it (rag.reader), and both carry their offsets in the original
file. Four rules abstain, all switched off together by a threshold ≤ 0 (Config.abstain_threshold):
- coverage: no sentence holds `threshold` of the question's content (Chinese questions only: an English
  question shares no words with the Chinese articles);
- place: a place the question names is not in the answer's article ("胶州累计建成了多少万亩高标准农田？"
  must not be answered from an article about 平度);
- reader: the reader finds no answer in what it read (rag.spans.says_no_answer; for an English question the
  margin depends on how much of it the answer's article holds, and is surer for one naming something the corpus
  has no word for);
- names: an English question's telling names are not in the answer's article (rag.crosslingual.support).
The place and names rules judge each of the reader's candidates: the answer is the best one from an article
that passes them, and only where none does is it an abstention.
"""
from __future__ import annotations

from typing import Callable, Sequence

from rag.crosslingual import reader_question, support, unknown_name
from rag.lexical import normalise, to_simplified
from rag.question import Question, as_question
from rag.sentences import SentenceSimilarity, answer_window, score_sentences
from rag.spans import says_no_answer, sentence_around, shows_short, trimmed, with_unit
from rag.types import Answer, Chunk, Span, is_uploaded

NO_ANSWER = "抱歉，现有文章中没有找到这个问题的答案。以下是最接近的段落。"


def extract_answer(question: Question | str, chunks: Sequence[Chunk], k: int, threshold: float, *,
                   asked: str | None = None, notes: tuple[str, ...] = (),
                   source_text: Callable[[Chunk], str] | None = None,
                   similarity: SentenceSimilarity | None = None, reader=None) -> Answer:
    """The best sentence among the retrieved chunks (first k cited, the answer's chunk first), or an abstention.

    `asked` is the question as the user typed it (default: the question's text; they differ for a
    follow-up, answered as the self-contained question). `source_text(chunk)` gives the text of the chunk's
    whole article, for the place and names rules (default: the chunk's own text).
    """
    question = as_question(question)
    asked = question.text if asked is None else asked
    abstain = threshold > 0
    hits = score_sentences(question, chunks, similarity)
    coverage = max((h.coverage for h in hits), default=0.0)
    abstention = Answer(question=asked, text=NO_ANSWER, chunk=None, abstained=True, score=coverage,
                        citations=tuple(chunks[:k]), notes=notes)
    if not hits:
        return abstention
    best = hits[0]
    if abstain and question.chinese and coverage < threshold:
        return abstention
    read = read_passages(reader, question, chunks, hits) if reader is not None else []
    fits = _ArticleFit(question, source_text)
    if abstain:
        # The place and names rules judge each candidate's article: the answer is the best candidate from an
        # article that names what the question names (`How many … has Pingdu cultivated?` is not answered
        # from the passage ranked first if it is about 莱西, but from the 平度 one), or nothing.
        if read:
            read = [c for c in read if fits(chunks[c.rank])]
            if not read:
                return abstention
        elif not fits(best.chunk):
            return abstention
    chunk = chunks[read[0].rank] if read else best.chunk
    if reader is not None and abstain and says_no_answer(read, question.chinese,
                                                     not question.chinese and unknown_name(question.units),
                                                     fits.support(chunk)):
        return abstention
    if read:
        pick = read[0]
        start, end = sentence_around(chunk.text, pick.span.start, pick.span.end)
        short = trimmed(chunk.text, pick.span.start, pick.span.end) if shows_short(pick) else None
        short = with_unit(chunk.text, *short) if short else None  # `128起`, not `128`
        return _answer(asked, chunk, chunks, k, start, end, short, best.coverage, notes)
    start, end = answer_window(hits, question)
    return _answer(asked, chunk, chunks, k, start, end, None, best.coverage, notes)


class _ArticleFit:
    """Whether a chunk's article holds the places a Chinese question names and the telling names of an English
    one, and the share of an English question's understood words it holds (rag.crosslingual.support); each
    article fetched, normalised and judged once per question, and only for a question that has something to
    check."""

    def __init__(self, question: Question, source_text: Callable[[Chunk], str] | None):
        self.question, self.source_text, self.seen = question, source_text, {}
        self.english = bool(question.units) and not question.chinese

    def __call__(self, chunk: Chunk) -> bool:
        places, (_, names) = self._judged(chunk)
        return places and names

    def support(self, chunk: Chunk) -> float:
        """The share of an English question's understood words and names that the chunk's article holds (0 for
        a question with none: nothing then vouches for a weak span)."""
        return self._judged(chunk)[1][0]

    def _judged(self, chunk: Chunk) -> tuple[bool, tuple[float, bool]]:
        if not self.question.places and not self.english:
            return True, (0.0, True)
        # An upload may share its file name (and article number) with a file of the shared index.
        key = (chunk.source, chunk.article, is_uploaded(chunk)) if self.source_text else chunk.id
        if key not in self.seen:
            context = normalise(chunk.title + (self.source_text(chunk) if self.source_text else chunk.text))
            self.seen[key] = (all(place in context for place in self.question.places),
                              support(self.question.units, context) if self.english else (0.0, True))
        return self.seen[key]


def read_passages(reader, question: Question, chunks: Sequence[Chunk], hits) -> list:
    """The reader's candidate spans over the top READ_PASSAGES passages, and the passage of the sentence
    scorer's best sentence where it ranks lower (an uploaded file's passage, whose BM25 scores are not
    comparable with the shared index's), best first (rag.spans.combine)."""
    from rag.spans import ENGLISH_SENTENCE_WEIGHT, READ_PASSAGES, SPANS_PER_WINDOW, combine

    ranks = list(range(min(READ_PASSAGES, len(chunks))))
    if hits and hits[0].rank not in ranks:
        ranks.append(hits[0].rank)
    passages = [chunks[r].text for r in ranks]
    # An English question is read with the passages' own words for its English ones; a Chinese question with its
    # romanised names in the passages' words (`Pingdu 的农民合作社` → `平度市 的农民合作社`): rag.question.analyse keeps
    # only those as a Chinese question's units, so its other Latin words (`卡拉OK`, `Java`) are read as asked.
    if question.chinese and not question.units:
        asked = question.simplified
    else:
        asked = reader_question(question.simplified, question.units, [to_simplified(p) for p in passages])
    spans = reader.run(asked, passages).spans(per_window=SPANS_PER_WINDOW)
    return combine(spans, hits, ranks, sentence_weight=None if question.chinese else ENGLISH_SENTENCE_WEIGHT)


def _answer(asked: str, chunk: Chunk, chunks: Sequence[Chunk], k: int, start: int, end: int,
            short: tuple[int, int] | None, score: float, notes: tuple[str, ...]) -> Answer:
    citations = (chunk,) + tuple(c for c in chunks if c.id != chunk.id)[: k - 1]
    return Answer(
        question=asked, text=chunk.text[start:end], chunk=chunk, span=file_span(chunk, start, end),
        short_answer=chunk.text[short[0]:short[1]] if short else "",
        short_span=file_span(chunk, *short) if short else None,
        score=score, citations=citations, notes=notes,
    )


def file_span(chunk: Chunk, start: int, end: int) -> Span:
    """Where chunk.text[start:end] (not empty) stands in the chunk's original file."""
    return Span(chunk.to_file_offset(start), chunk.to_file_offset(end - 1) + 1)
