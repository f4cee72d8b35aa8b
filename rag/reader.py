"""Optional extractive reader: a transformers question-answering model, by hub name or local path.

For deployments with hub access or a GPU (e.g. a Chinese MacBERT/RoBERTa fine-tuned on CMRC);
the default stays the offline rules in rag.answer. transformers 5 removed
pipeline("question-answering"), so this uses AutoModelForQuestionAnswering with offset mappings.
"""
from __future__ import annotations

from dataclasses import dataclass

from rag.errors import EmbedderError


@dataclass(frozen=True)
class Span:
    text: str
    start: int  # offsets in the context
    end: int
    score: float


class Reader:
    """A loaded QA model; `read` finds the best answer span in a context."""

    def __init__(self, model: str, device: str | None = None, max_length: int = 384, stride: int = 128,
                 max_answer_tokens: int = 30) -> None:
        try:
            import torch
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
        except ImportError as error:
            raise EmbedderError("the reader needs transformers: pip install torch==2.13.0 transformers") from error
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForQuestionAnswering.from_pretrained(model).to(self.device).eval()
        except Exception as error:  # hub errors, missing files: all mean "cannot load"
            raise EmbedderError(f"cannot load reader model {model!r} ({type(error).__name__}: {error}); "
                                "give a local folder or a hub name on a machine with network access") from error
        self.name = model
        self.max_length = min(max_length, self.tokenizer.model_max_length)
        self.stride = min(stride, self.max_length // 2)
        self.max_answer_tokens = max_answer_tokens

    def read(self, question: str, context: str) -> Span:
        torch = self._torch
        encoded = self.tokenizer(
            question, context, truncation="only_second", max_length=self.max_length, stride=self.stride,
            return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt",
        )
        offsets = encoded.pop("offset_mapping")
        encoded.pop("overflow_to_sample_mapping", None)
        with torch.inference_mode():
            output = self.model(**{k: v.to(self.device) for k, v in encoded.items()})
        start_probs = output.start_logits.float().softmax(-1).cpu()
        end_probs = output.end_logits.float().softmax(-1).cpu()
        best = Span("", 0, 0, -1.0)
        for window in range(start_probs.shape[0]):
            in_context = torch.tensor([sid == 1 for sid in encoded.sequence_ids(window)])
            if not in_context.any():
                continue
            n = in_context.shape[0]
            # P(start=i)·P(end=j) over context tokens with i ≤ j < i + max_answer_tokens.
            scores = start_probs[window, :n, None] * end_probs[window, None, :n]
            allowed = in_context[:, None] & in_context[None, :]
            allowed &= torch.ones(n, n, dtype=torch.bool).triu()
            allowed &= ~torch.ones(n, n, dtype=torch.bool).triu(self.max_answer_tokens)
            scores = scores.masked_fill(~allowed, -1.0)
            start_token, end_token = divmod(int(scores.argmax()), n)
            score = float(scores[start_token, end_token])
            if score > best.score:
                start, end = int(offsets[window, start_token, 0]), int(offsets[window, end_token, 1])
                best = Span(context[start:end], start, end, score)
        return best


def reader_answer(reader: Reader, question: str, resolved: str, chunks, k: int, notes: tuple[str, ...] = ()):
    """The reader's best span over the top passages, inside its sentence, as an Answer (offsets into the file)."""
    from rag.chunking import answer_sentences
    from rag.types import Answer

    spans = [(reader.read(resolved, chunk.text), chunk) for chunk in chunks[:3]]
    span, chunk = max(spans, key=lambda pair: pair[0].score)
    if not span.text.strip():
        return None
    start, end = next(((a, b) for a, b in answer_sentences(chunk.text) if a <= span.start < b), (span.start, span.end))
    end = max(end, span.end)
    citations = (chunk,) + tuple(c for c in chunks if c.id != chunk.id)[: k - 1]
    return Answer(
        question=question, text=chunk.text[start:end], chunk=chunk,
        start=chunk.to_file_offset(start), end=chunk.to_file_offset(end - 1) + 1,
        short_answer=span.text, short_start=chunk.to_file_offset(span.start),
        short_end=chunk.to_file_offset(span.end - 1) + 1, score=span.score, citations=citations, notes=notes,
    )
