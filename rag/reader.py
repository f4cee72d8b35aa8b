"""The reader step: which extractive QA model marks the short answer, and when its span is shown.

`load_reader(spec)` gives an object with `run(question, contexts) -> Reading` (searched for spans as
often as needed) and `read(question, contexts, per_window, within) -> [ReaderSpan]`:
- "bundled" (the default): models/reader-zh, our e5-small reader (rag.reader_model), offline, run by
  onnxruntime from its reader.onnx (int8 where measured harmless; "bundled:int8" is the same reader);
- a folder made by scripts/train_reader.py and scripts/export_reader_onnx.py: the same kind of reader;
- any other name or folder: a transformers AutoModelForQuestionAnswering (the hub extra; hub access
  needed for a name);
- "none": no reader; answers are then whole sentences.

The reader reads the top retrieved passages and proposes spans; rag.spans turns them into the answer
(which span, its sentence, whether it is shown as the short answer, the no-answer evidence).
"""
from __future__ import annotations

import functools
from pathlib import Path

from rag.errors import EmbedderError, install_hint
import numpy as np

from rag.reader_model import Reading, ReaderSpan, Window

BUNDLED = Path(__file__).resolve().parent.parent / "models" / "reader-zh"


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
    folder = Path(spec).expanduser()
    if spec.startswith(("/", "./", "../", "~")):  # a path, not a hub name: a missing one is said so, not in hub terms
        if not folder.exists():
            raise EmbedderError(f"no reader folder at {spec}: give a folder that holds a reader (models/reader-zh, or a "
                                "transformers QA model saved with save_pretrained), or use the bundled one "
                                "(--reader bundled; RAG_READER=bundled for the app)")
        spec = str(folder) if spec.startswith("~") else spec  # the hub library does not expand ~
    if (folder / "normalisation.json").is_file():
        from rag.reader_model import ExtractiveReader

        return ExtractiveReader(folder)
    return TransformersReader(spec)


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
