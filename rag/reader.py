"""The reader step: which extractive QA model marks the short answer, and when its span is shown.

`load_reader(spec)` gives an object with `run(question, contexts) -> Reading` (searched for spans as
often as needed) and `read(question, contexts, per_window, within) -> [ReaderSpan]`:
- "bundled" (the default): models/reader-zh, our e5-small reader (rag.reader_model), offline, run by
  onnxruntime from its reader.onnx (int8 where measured harmless; "bundled:int8" is the same reader);
- a folder made by scripts/train_reader.py and scripts/export_reader_onnx.py: the same kind of reader;
- any other name or folder: a transformers AutoModelForQuestionAnswering (the hub extra; hub access
  needed for a name);
- "none": no reader; answers are then whole sentences.

The answer sentence is chosen by the sentence scorer (rag.sentences); the reader reads that sentence's
passage and proposes the short answer inside it (`short_answer_span`). It is shown only where the reader
is confident and the question asks for a fact rather than a description; otherwise the sentence is the
answer. The reader's no-answer evidence (`says_no_answer`) joins the abstention rules.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from rag.errors import EmbedderError, install_hint
import numpy as np

from rag.reader_model import Reading, ReaderSpan, Window

BUNDLED = Path(__file__).resolve().parent.parent / "models" / "reader-zh"
# Chosen on CMRC 2018 trial with `python -m rag eval` (README, "How the reader answers"): the reader's span is the
# short answer when P(start)·P(end) ≥ 0.5; among spans within 0.5 logit of the best, the longest wins
# (CMRC answers are longer than DRCD's, which the reader learnt from).
SHOW_PROBABILITY = 0.5
LENGTH_SLACK = 0.5
CLAUSE_SLACK = 2.0
CONTEXT_SENTENCES: int | None = 1
# Best span score minus the no-answer score over what the reader read: below this the reader says the
# passage does not answer. On CMRC trial + seed_qa (README, Quality) the coverage rule already catches
# what the reader does; -20 costs no trial question and guards English questions, which the coverage
# rule cannot judge.
NO_ANSWER_MARGIN = -20.0
# A question without Chinese text has no coverage rule, so the reader's word counts for more: the
# answerable English seed question scores -0.1, three English questions the seeds cannot answer -14 to -18.
ENGLISH_NO_ANSWER_MARGIN = -8.0
_CLAUSE = re.compile("[，,；;。！？!?]")
_EDGE = "，,。；;：:、 \n“”\"'（）()！？!?"


@functools.lru_cache(maxsize=4)
def load_reader(spec: str):
    """The reader named by Config.reader, or None for "none"/"". Loaded once a process: reading never
    changes it, so pipelines over several indexes share it."""
    spec = (spec or "").strip()
    if spec in ("", "none"):
        return None
    if spec in ("bundled", "bundled:int8"):
        from rag.reader_model import ExtractiveReader

        return ExtractiveReader(BUNDLED)
    if (Path(spec) / "normalisation.json").is_file():
        from rag.reader_model import ExtractiveReader

        return ExtractiveReader(Path(spec))
    return TransformersReader(spec)


def short_answer_span(reading, text: str, window: tuple[int, int]) -> tuple[int, int] | None:
    """(start, end) of the reader's answer inside text[window], or None where it is unsure.

    The reader is sure when its best span there has P(start)·P(end) ≥ SHOW_PROBABILITY. What is shown
    stays within one clause ("89.09%", not "89.09%，党组织覆盖率达到100%"): the best clause-internal span
    within CLAUSE_SLACK logits of the best span (on CMRC trial F1 0.612 → 0.607; what is shown reads as an
    answer, not as a fragment of the sentence).
    """
    spans = reading.spans(per_window=10, within=window)
    if not spans or spans[0].probability < SHOW_PROBABILITY:
        return None
    candidates = []
    for span in spans:
        start, end = span.start, span.end
        while start < end and text[start] in _EDGE:
            start += 1
        while end > start and text[end - 1] in _EDGE:
            end -= 1
        if end > start and not _CLAUSE.search(text[start:end]) and span.score >= spans[0].score - CLAUSE_SLACK:
            candidates.append((span.score, start, end))
    if not candidates:
        return None
    close = [c for c in candidates if c[0] >= candidates[0][0] - LENGTH_SLACK]
    _, start, end = max(close, key=lambda c: c[2] - c[1])
    return start, end


def reading_range(text: str, start: int, end: int) -> tuple[int, int]:
    """The part of a passage the reader reads for an answer at text[start:end]: that answer and
    CONTEXT_SENTENCES sentences either side (None: the whole passage)."""
    if CONTEXT_SENTENCES is None:
        return 0, len(text)
    from rag.chunking import answer_sentences

    sentences = answer_sentences(text)
    first = next((i for i, (a, b) in enumerate(sentences) if b > start), 0)
    last = next((i for i, (a, b) in reversed(list(enumerate(sentences))) if a < end), len(sentences) - 1)
    lo = sentences[max(0, first - CONTEXT_SENTENCES)][0] if sentences else 0
    hi = sentences[min(len(sentences) - 1, last + CONTEXT_SENTENCES)][1] if sentences else len(text)
    return min(lo, start), max(hi, end)


def says_no_answer(reading, lexical: bool = True) -> bool:
    """True when the reader's best span scores far below its no-answer score (`lexical`: the question has
    Chinese text, which the coverage rule judges too)."""
    spans = reading.spans()
    return not spans or spans[0].margin < (NO_ANSWER_MARGIN if lexical else ENGLISH_NO_ANSWER_MARGIN)


class TransformersReader:
    """Any transformers extractive QA model (hub name or local folder), behind the same `read` interface.

    transformers 5 removed pipeline("question-answering"), so this uses AutoModelForQuestionAnswering
    with offset mappings.
    """

    def __init__(self, model: str, max_length: int = 384, stride: int = 128) -> None:
        try:
            import torch
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
        except ImportError as error:
            raise EmbedderError(f"the reader {model!r} is a transformers model, which needs the hub extra "
                                f"({error.name} is missing): {install_hint('hub')} (or use the bundled reader: "
                                "--reader bundled)") from error
        self._torch = torch
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForQuestionAnswering.from_pretrained(model).eval()
        except Exception as error:  # hub errors, missing files: all mean "cannot load"
            raise EmbedderError(f"cannot load reader model {model!r} ({type(error).__name__}: {error}); "
                                "give a local folder or a hub name on a machine with network access, "
                                "or use the bundled reader (--reader bundled)") from error
        self.name = model
        self.max_length = min(max_length, self.tokenizer.model_max_length)
        self.stride = min(stride, self.max_length // 2)

    def read(self, question: str, contexts, per_window: int = 1, within: tuple[int, int] | None = None) -> list[ReaderSpan]:
        return self.run(question, contexts).spans(per_window, within)

    def run(self, question: str, contexts) -> Reading:
        contexts = list(contexts)
        if not contexts:
            return Reading([], np.zeros((0, 1)), np.zeros((0, 1)))
        encoded = self.tokenizer(
            [question] * len(contexts), contexts, truncation="only_second", max_length=self.max_length,
            stride=self.stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=True,
            return_tensors="pt",
        )
        offsets = encoded.pop("offset_mapping").tolist()
        owners = encoded.pop("overflow_to_sample_mapping").tolist()
        windows = []
        for row, owner in enumerate(owners):
            in_context = [i for i, sid in enumerate(encoded.sequence_ids(row)) if sid == 1]
            first = in_context[0] if in_context else len(offsets[row])
            windows.append(Window(tuple(encoded["input_ids"][row].tolist()), owner, first,
                                  tuple(tuple(offsets[row][i]) for i in in_context)))
        with self._torch.inference_mode():
            output = self.model(**encoded)
        return Reading(windows, output.start_logits.float().numpy(), output.end_logits.float().numpy())
