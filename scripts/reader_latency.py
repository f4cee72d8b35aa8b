"""Reader latency, paired: several readers take turns on the same CMRC passages, best of a few repeats each,
so a busy machine slows them alike (used for the ONNX variants' table in the README, Performance).

    python scripts/reader_latency.py ../shared/eval/cmrc2018_trial.json torch:models/reader-zh \\
        models/reader-zh /tmp/reader-fp32 [--questions 40] [--repeat 3]

A reader is a folder with reader.onnx (run by onnxruntime, as answering does), or `torch:FOLDER`: the same
weights in torch float32 (needs the train extra), the runtime before ONNX. Each read is question + the
whole gold passage (short-gold questions), as scripts/score_reader.py reads it.
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
from rag.metrics import percentile  # noqa: E402
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
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    items = [(qa["question"], p["context"]) for a in json.loads(args.data.read_text(encoding="utf-8"))["data"]
             for p in a["paragraphs"] for qa in p["qas"]
             if min(len(x["text"]) for x in qa["answers"]) <= SHORT_GOLD_CHARS][:args.questions]
    readers = [TorchReader(Path(spec[6:])) if spec.startswith("torch:") else ExtractiveReader(Path(spec))
               for spec in args.readers]
    for reader in readers:
        reader.run(*items[0][:1], [items[0][1]])  # warm-up
    best = np.full((len(items), len(readers)), np.inf)
    for i, (question, context) in enumerate(items):
        for turn in range(args.repeat):
            for k in np.roll(np.arange(len(readers)), i + turn):  # rotate who goes first
                started = time.perf_counter()
                readers[k].run(question, [context])
                best[i, k] = min(best[i, k], (time.perf_counter() - started) * 1000)
    print(f"{len(items)} short-gold passages of {args.data.name}, best of {args.repeat} per passage, p50 / p95 ms:")
    for spec, column in zip(args.readers, best.T):
        print(f"  {spec}: {percentile(list(column), 50):.1f} / {percentile(list(column), 95):.1f}")


if __name__ == "__main__":
    main()
