"""Readers compared, paired: several readers take turns on the same CMRC short-gold passages (best of a few
repeats each, so a busy machine slows them alike): EM/F1 of each one's best span and its latency (the ONNX
variants' table in the README, Performance).

    python scripts/compare_readers.py ../shared/eval/cmrc2018_trial.json torch:models/reader-zh \\
        models/reader-zh /tmp/reader-fp32 [--questions 100] [--repeat 1]

A reader is a folder with reader.onnx (run by onnxruntime, as answering does), or `torch:FOLDER`: the same
weights in torch float32 (needs the train extra), the runtime before ONNX. Each read is question + the
whole gold passage (short-gold questions), as scripts/score_reader.py reads it, or with --around-answer
the 250-character passage holding the gold answer, cut as the index cuts articles: what answering reads
(rag.spans; the reader reads the top retrieved passages whole).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.evaluate import SHORT_GOLD_CHARS  # noqa: E402
from rag.metrics import cmrc_em, cmrc_f1, percentile  # noqa: E402
from rag.reader_model import ExtractiveReader, Reading, ReaderTokenizer, load_qa_model  # noqa: E402


class TorchReader:
    """The reader folder's weights in torch float32, 2 threads: what answering ran before onnxruntime."""

    def __init__(self, folder: Path) -> None:
        import torch

        torch.set_num_threads(2)
        self.torch = torch
        self.model, settings = load_qa_model(folder)
        self.tokenizer = ReaderTokenizer.from_folder(folder)
        self.max_length, self.stride = settings.get("max_length", 256), settings.get("stride", 128)
        self.pad_id = int(self.model.config.pad_token_id)

    def run(self, question: str, contexts) -> Reading:
        torch = self.torch
        windows = self.tokenizer.encode_windows(question, list(contexts), self.max_length, self.stride)
        width = max(len(w.ids) for w in windows)
        ids = torch.full((len(windows), width), self.pad_id, dtype=torch.long)
        for row, window in enumerate(windows):
            ids[row, :len(window.ids)] = torch.tensor(window.ids)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=(ids != self.pad_id).long())
        return Reading(windows, out.start_logits.numpy(), out.end_logits.numpy())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("readers", nargs="+")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--around-answer", action="store_true",
                        help="read the index passage that holds the gold answer (as answering does), not the whole context")
    args = parser.parse_args(argv)
    items = [(qa["question"], p["context"], qa["answers"]) for a in json.loads(args.data.read_text(encoding="utf-8"))["data"]
             for p in a["paragraphs"] for qa in p["qas"]
             if min(len(x["text"]) for x in qa["answers"]) <= SHORT_GOLD_CHARS][:args.questions]
    if args.around_answer:  # what answering reads: the passage holding the answer, cut as the index cuts
        from rag.chunking import pack_sentences
        from rag.config import Config

        size = Config().chunk_size

        def holding(context: str, start: int, end: int) -> tuple[int, int]:
            cuts = pack_sentences(context, size, Config().chunk_overlap)
            return next(((a, b) for a, b in cuts if a <= start and end <= b), (0, len(context)))

        items = [(q, c[slice(*holding(c, g[0]["answer_start"], g[0]["answer_start"] + len(g[0]["text"])))], g)
                 for q, c, g in items]
    items = [(q, c, [x["text"] for x in g]) for q, c, g in items]
    readers = [TorchReader(Path(spec[6:])) if spec.startswith("torch:") else ExtractiveReader(Path(spec))
               for spec in args.readers]
    for reader in readers:
        reader.run(items[0][0], [items[0][1]])  # warm-up
    best = np.full((len(items), len(readers)), np.inf)
    em, f1 = np.zeros((len(items), len(readers))), np.zeros((len(items), len(readers)))
    for i, (question, context, golds) in enumerate(items):
        for turn in range(args.repeat):
            for k in np.roll(np.arange(len(readers)), i + turn):  # rotate who goes first
                started = time.perf_counter()
                reading = readers[k].run(question, [context])
                best[i, k] = min(best[i, k], (time.perf_counter() - started) * 1000)
                spans = reading.spans()
                prediction = context[spans[0].start:spans[0].end] if spans else ""
                em[i, k], f1[i, k] = cmrc_em(prediction, golds), cmrc_f1(prediction, golds)
    print(f"{len(items)} short-gold questions of {args.data.name}, "
          f"{'gold sentence ± 1' if args.around_answer else 'gold passage'} given, best of {args.repeat} "
          "reads per passage: EM | F1 | read p50 / p95 ms")
    for k, spec in enumerate(args.readers):
        print(f"  {spec}: {em[:, k].mean():.3f} | {f1[:, k].mean():.3f} | "
              f"{percentile(list(best[:, k]), 50):.1f} / {percentile(list(best[:, k]), 95):.1f}")


if __name__ == "__main__":
    main()
