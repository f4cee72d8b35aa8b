"""Give a reader folder e5's own pieces for English words, so English questions are read in whole words.

    python scripts/extend_reader_vocab.py models/reader-zh            # in place; then re-export reader.onnx:
    python scripts/export_reader_onnx.py models/reader-zh

Why: the reader's vocabulary was pruned to the pieces its training data used (20,728 of XLM-R's 250,002), so an
English word the data never used falls back to fragments (`permanent` -> `per man en t`, `village` -> `v illa ge`)
that e5 never saw in pretraining, and every reader window of an English question grows by them. This adds, at the
end of the vocabulary, every piece that e5's full tokenizer uses for (a) the English words of CC-CEDICT's glosses
(the dictionary the English lexicon already ships, rag.cedict) and (b) every toneless pinyin syllable, lower case and
capitalised (the romanised names of Chinese news). Only pieces made of ASCII letters are added, so a text without
Latin letters is tokenized exactly as before. Their embedding rows are e5's own Q4_0 blocks (exact, like the rows
already there: the reader never trained its word embeddings), and the trained encoder is untouched: existing token
ids keep their rows, so the folder's other weights stay valid.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LETTERS = re.compile(r"▁?[A-Za-z]+")
EMBEDDINGS = "bert.embeddings.word_embeddings.weight.q4"


def english_words(min_count: int) -> tuple[list[str], list[str]]:
    """CC-CEDICT's gloss words used at least min_count times, and every toneless pinyin syllable (both cases)."""
    from collections import Counter

    from pypinyin.constants import PINYIN_DICT

    from rag.cedict import _cedict_lines

    counts = Counter(word for lines in _cedict_lines().values() for line in lines
                     for word in re.findall(r"[A-Za-z]+", line.partition("/")[2]))  # the glosses, not the pinyin
    words = sorted(w for w, n in counts.items() if n >= min_count)
    syllables = sorted({re.sub(r"[^a-z]", "", _toneless(p)) for readings in PINYIN_DICT.values()
                        for p in readings.split(",")} - {""})
    return words, syllables


def _toneless(pinyin: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", pinyin).encode("ascii", "ignore").decode().lower()


def pieces_to_add(words, syllables, have: set[str]) -> list[int]:
    """e5 ids of the ASCII-letter pieces e5's full tokenizer uses for the words, and for the syllables alone,
    capitalised and inside a word (a romanised name is syllables run together: Baojiatun)."""
    from rag.e5_weights import build_tokenizer, read_e5_file

    e5 = read_e5_file()
    full = build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"], e5.special["pad"])
    texts = list(words) + [form for s in syllables for form in (s, s.capitalize(), "x" + s)]
    ids = set()
    for encoding in full.encode_batch(texts, add_special_tokens=False):
        ids.update(i for i, piece in zip(encoding.ids, encoding.tokens) if LETTERS.fullmatch(piece) and piece not in have)
    return sorted(ids)


def extend(folder: Path, out: Path, min_count: int) -> dict:
    from safetensors.numpy import load_file, save_file

    from rag.e5_weights import build_tokenizer, read_e5_file

    folder, out = Path(folder), Path(out)
    missing = [n for n in ("config.json", "tokenizer.json", "model.safetensors") if not (folder / n).is_file()]
    if missing:
        raise SystemExit(f"error: {folder} is not a reader folder ({', '.join(missing)} missing); "
                         "make one with `python scripts/train_reader.py`")
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = [(p, s) for p, s in tokenizer["model"]["vocab"]]
    have = {p for p, _ in vocab}
    e5 = read_e5_file()
    added = pieces_to_add(*english_words(min_count), have)
    packed = load_file(str(folder / "model.safetensors"))
    rows = packed[EMBEDDINGS]
    if rows.shape[0] != len(vocab):
        raise SystemExit(f"error: {folder}: {rows.shape[0]} embedding rows for {len(vocab)} pieces; not a reader folder")
    packed[EMBEDDINGS] = np.concatenate([rows, e5.tensors["emb.word"][added]])
    vocab += [(e5.pieces[i], float(e5.scores[i])) for i in added]
    pieces, scores = [p for p, _ in vocab], [s for _, s in vocab]
    special = {k: pieces.index(e5.pieces[v]) for k, v in e5.special.items()}
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(pieces, scores, special["unk"], special["bos"], special["eos"], special["pad"])
    tokenizer.save(str(out / "tokenizer.json"))
    save_file(packed, str(out / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["vocab_size"] = len(pieces)
    # The vocabulary the reader was trained with: ids below it were read in training, the rest only by e5.
    config.setdefault("reader", {}).setdefault("trained_vocab_size", len(have))
    (out / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    if out != folder:
        for name in ("normalisation.json",):
            (out / name).write_bytes((folder / name).read_bytes())
    return {"pieces_before": len(have), "pieces_added": len(added), "pieces_after": len(pieces), "min_count": min_count}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a reader folder: config.json, model.safetensors, tokenizer.json")
    parser.add_argument("--out", type=Path, help="write the extended folder here (default: FOLDER, in place)")
    parser.add_argument("--min-count", type=int, default=2, help="CC-CEDICT gloss words used at least this often")
    args = parser.parse_args(argv)
    out = args.out or args.folder
    report = extend(args.folder, out, args.min_count)
    print(json.dumps(report))
    # reader.onnx (what the app runs) is traced from these files: a folder changed here needs a new one.
    if report["pieces_added"] or not (out / "reader.onnx").exists():
        export = ROOT / "scripts" / "export_reader_onnx.py"
        print(f"{out / 'reader.onnx'} is now missing or stale: run "
              f"`python {shlex.quote(str(export))} {shlex.quote(str(out.resolve()))}`")


if __name__ == "__main__":
    main()
