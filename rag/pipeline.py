"""The one library API the CLI and the app stand on: load an index once, answer many questions."""
from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.answer import SentenceSimilarity, answer_window, asks_for_description, lexical_question, score_sentences
from rag.config import Config
from rag.dialogue import resolve_follow_up
from rag.embedding import make_embedder
from rag.lexical import normalise, place_names
from rag.retrieval import query_text, retrieve
from rag.store.folder import Index
from rag.types import Answer, Chunk

NO_ANSWER = "抱歉，现有文章中没有找到这个问题的答案。以下是最接近的段落。"
EMPTY_QUESTION = "请输入一个问题。(Please type a question.)"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_question(question: object, limit: int) -> tuple[str, tuple[str, ...]]:
    """The question as text: control characters removed, whitespace collapsed, cut at `limit` chars."""
    text = question if isinstance(question, str) else ("" if question is None else str(question))
    # Lone surrogates (from broken UTF-16 or a JS client) cannot be encoded anywhere downstream.
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text))
    text = " ".join(text.split())
    notes = []
    if len(text) > limit:
        text = text[:limit]
        notes.append(f"问题过长，只使用了前 {limit} 个字符。(Question truncated to {limit} characters.)")
    return text, tuple(notes)


def has_content(text: str) -> bool:
    """Letters, digits or CJK characters: emoji or punctuation alone are no question."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


@dataclass
class Pipeline:
    config: Config
    index: Index
    embedder: object
    reader: object = None  # rag.reader.Reader when config.reader names a model
    note: str = ""  # one line about how the index was loaded (e.g. served as built: its corpus is not here)

    @classmethod
    def load(cls, config: Config, build_if_needed: bool = False,
             progress: Callable[[str], None] | None = None) -> "Pipeline":
        """Load the index and its embedder once.

        The index is checked against the corpus folder it records that it was built from (rag.provenance);
        a different config.corpus_dir is a CorpusMismatch. With build_if_needed, a missing or stale index is
        (re)built, from the corpus it was built from. A note about the load (e.g. that the corpus folder is
        gone, so the index is served as built) goes to `progress` and into `info["note"]`. The checks and the
        build are rag.build.check_index and rag.build.ensure_index.
        """
        from rag.build import check_index, ensure_index

        say = progress or (lambda message: None)
        if build_if_needed:
            index, embedder, note = ensure_index(config, say)
            if embedder is not None:  # just built
                return cls(config, index, embedder, _load_reader(config))
        else:
            index, note = check_index(config)
        if note:
            say(note)
        say(f"loading embedder {config.embedder}…")
        return cls(config, index, make_embedder(config.embedder, config.batch_size), _load_reader(config), note)

    @property
    def info(self) -> dict:
        manifest = self.index.manifest
        return {"embedder": manifest.get("embedder"), "index_dir": str(self.index.folder),
                "articles": manifest.get("articles"), "chunks": manifest.get("chunks"),
                "built_at": manifest.get("built_at"), "note": self.note,
                "reader": None if self.reader is None else self.config.reader.replace("bundled", "models/reader-zh")}

    def original_text(self, chunk: Chunk) -> str:
        return self.index.original_text(chunk)

    def similarity_to(self, query_vector) -> SentenceSimilarity | None:
        """The question's cosine with each answer sentence of a retrieved chunk (None: index has no sentence vectors)."""
        if self.index.sentence_vectors is None:
            return None
        return lambda chunk: self.index.sentence_similarity(chunk, query_vector)

    def ask(self, question: object, top_k: int | None = None, history: Sequence[str] = (),
            mode: str = "hybrid") -> Answer:
        """Answer one question. Never raises for bad questions: they get an abstention with a note."""
        text, notes = clean_question(question, self.config.max_question_chars)
        if not has_content(text):
            return Answer(question=text, text=EMPTY_QUESTION, chunk=None, abstained=True, notes=notes)
        resolved = resolve_follow_up(text, history) if history else text
        if resolved != text:
            notes += (f"理解为：{resolved}",)
        k = max(1, min(top_k or self.config.top_k, 100))
        vector = self.embedder.embed_queries([query_text(resolved)])[0]
        chunks = retrieve(self.index, vector, resolved, self.config, k=max(k, 10), mode=mode)
        return extract_answer(text, resolved, chunks, k, self.config.abstain_threshold, notes,
                              source_text=self.index.article_text, similarity=self.similarity_to(vector),
                              reader=self.reader)


def extract_answer(question: str, resolved: str, chunks: list[Chunk], k: int, threshold: float,
                   notes: tuple[str, ...] = (), source_text: Callable[[Chunk], str] | None = None,
                   similarity: SentenceSimilarity | None = None, reader=None) -> Answer:
    """The best sentence among the retrieved chunks (first k cited, answer's chunk first), or an abstention.

    `threshold` is the least lexical coverage (share of the question's content found in one sentence)
    needed to answer (Config.abstain_threshold; ≤ 0 never abstains). Questions without Chinese text are
    not judged by lexical coverage (an English question shares no words with the Chinese articles).
    """
    hits = score_sentences(resolved, chunks, similarity)
    coverage = max((h.coverage for h in hits), default=0.0)
    unsure = lexical_question(resolved) and coverage < threshold
    if hits and not unsure and threshold > 0:
        # A place the question names must appear in the answer's article: "胶州累计建成了多少万亩
        # 高标准农田？" must not be answered from an article about 平度.
        best = hits[0].chunk
        context = normalise(best.title + (source_text(best) if source_text else best.text))
        unsure = any(place not in context for place in place_names(normalise(resolved)))
    if not hits or unsure:
        return Answer(question=question, text=NO_ANSWER, chunk=None, abstained=True,
                      score=coverage, citations=tuple(chunks[:k]), notes=notes)
    best = hits[0]
    chunk = best.chunk
    start, end = answer_window(hits, resolved)
    text = chunk.text[start:end]
    short = None
    if reader is not None:
        from rag.reader import reading_range, says_no_answer, short_answer_span

        lo, hi = reading_range(chunk.text, start, end)
        reading = reader.run(resolved, [chunk.text[lo:hi]])  # read once, searched twice
        if says_no_answer(reading, lexical_question(resolved)):
            return Answer(question=question, text=NO_ANSWER, chunk=None, abstained=True,
                          score=coverage, citations=tuple(chunks[:k]), notes=notes)
        if not asks_for_description(resolved):
            short = short_answer_span(reading, chunk.text[lo:hi], (start - lo, end - lo))
            short = (short[0] + lo, short[1] + lo) if short else None
    citations = (chunk,) + tuple(c for c in chunks if c.id != chunk.id)[: k - 1]
    return Answer(
        question=question, text=text, chunk=chunk,
        start=chunk.to_file_offset(start), end=chunk.to_file_offset(end - 1) + 1,
        short_answer=chunk.text[short[0]:short[1]] if short else "",
        short_start=chunk.to_file_offset(short[0]) if short else -1,
        short_end=chunk.to_file_offset(short[1] - 1) + 1 if short else -1,
        score=best.coverage, citations=citations, notes=notes,
    )


def _load_reader(config: Config):
    from rag.reader import load_reader

    return load_reader(config.reader)


def answer_to_dict(answer: Answer, latency_ms: float, original_text: Callable[[Chunk], str] | None = None) -> dict:
    """The JSON contract of `python -m rag ask --json` and the app's /ask endpoint."""
    def citation(chunk: Chunk) -> dict:
        return {"source": chunk.source, "title": chunk.title,
                "text": original_text(chunk) if original_text else chunk.text,
                "start": chunk.start, "end": chunk.end,
                "score": round(float(chunk.score), 6) if chunk.score is not None else None}

    return {
        "question": answer.question, "answer": answer.text, "short_answer": answer.short_answer,
        "abstained": answer.abstained, "citations": [citation(c) for c in answer.citations],
        "latency_ms": round(latency_ms, 2), "notes": list(answer.notes),
        "start": answer.start, "end": answer.end, "short_start": answer.short_start, "short_end": answer.short_end,
    }


def timed_ask(pipeline: Pipeline, question: object, **kwargs) -> tuple[Answer, float]:
    started = time.perf_counter()
    answer = pipeline.ask(question, **kwargs)
    return answer, (time.perf_counter() - started) * 1000

