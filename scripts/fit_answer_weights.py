"""Fit the sentence-scoring weights of rag.sentences (WEIGHTS, WEIGHTS_LEXICAL) on SQuAD-style data.

    python scripts/fit_answer_weights.py [../shared/eval/cmrc2018_trial.json] [--folds 5]

For every question the pipeline retrieves its passages as `ask` does; each answer sentence among them
is a candidate (features: rag.sentences.sentence_features), and the ones holding a gold answer are right.
The model is a softmax over a question's candidates, linear in the features, fitted by gradient descent
with a small L2 penalty (numpy only). It prints the top-1 accuracy cross-validated by passage (questions
on one passage never straddle training and test) for the current weights and the refitted ones, and
the refitted weights to paste into rag/sentences.py. Questions whose gold answer is in no single retrieved
sentence cannot be right and count as wrong.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.sentences import FEATURES, WEIGHTS, WEIGHTS_LEXICAL, sentence_features  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.evaluate import load_squad, squad_pipeline  # noqa: E402
from rag.question import analyse  # noqa: E402
from rag.retrieval import query_text, retrieve  # noqa: E402


def candidates(path: Path, config: Config):
    """(passage id, feature rows, right?) for every question."""
    articles, sources, questions = load_squad(path)
    pipeline = squad_pipeline(path, config, articles, sources)
    out = []
    for q in questions:
        question = analyse(q.question)
        vector = pipeline.embedder.embed_queries([query_text(question)])[0]
        chunks = retrieve(pipeline.index, vector, question, config, k=10)
        hits, rows = sentence_features(question, chunks, pipeline.similarity_to(vector))
        rows = np.nan_to_num(rows)  # a passage without sentence vectors (none in a fresh eval index)
        right = np.array([h.chunk.source == q.source and any(a in h.chunk.text[h.start:h.end] for a in q.answers)
                          for h in hits], bool)
        out.append((q.source, rows, right))
    return out


def fit(groups, columns, l2=1e-3, steps=3000):
    """Weights maximising the mean log-probability of the right candidates (softmax per question)."""
    groups = [(rows[:, columns], right) for _, rows, right in groups if right.any()]
    X = np.vstack([rows for rows, _ in groups]).astype(np.float64)
    right = np.concatenate([r for _, r in groups]).astype(np.float64)
    sizes = np.array([len(r) for _, r in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(groups)), sizes)

    def loss_and_grad(w):
        s = X @ w
        e = np.exp(s - np.maximum.reduceat(s, starts)[owner])
        total, good = np.add.reduceat(e, starts), np.add.reduceat(e * right, starts)
        p, p_right = e / total[owner], e * right / good[owner]
        loss = -np.mean(np.log(good / total)) + l2 * w @ w
        return loss, X.T @ (p - p_right) / len(groups) + 2 * l2 * w

    w, rate = np.zeros(len(columns)), 1.0
    loss, grad = loss_and_grad(w)
    for _ in range(steps):  # gradient descent with a step that grows on success and halves on failure
        trial = w - rate * grad
        trial_loss, trial_grad = loss_and_grad(trial)
        if trial_loss < loss:
            w, loss, grad, rate = trial, trial_loss, trial_grad, rate * 1.2
        else:
            rate /= 2
        if rate < 1e-9:
            break
    return w


def top1(groups, columns, w) -> int:
    return sum(bool(right[int(np.argmax(rows[:, columns] @ w))]) for _, rows, right in groups if len(right))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default="../shared/eval/cmrc2018_trial.json", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    groups = candidates(args.data, Config())
    n = len(groups)
    reachable = sum(right.any() for _, _, right in groups)
    print(f"{n} questions; the gold answer lies in one retrieved sentence for {reachable} ({reachable / n:.3f})")
    passages = sorted({source for source, _, _ in groups})
    fold = {p: i % args.folds for i, p in enumerate(np.random.default_rng(0).permutation(passages))}
    everything = list(range(len(FEATURES)))
    lexical = [i for i, name in enumerate(FEATURES) if name != "similarity"]
    for label, columns, current in (("WEIGHTS", everything, WEIGHTS), ("WEIGHTS_LEXICAL", lexical, WEIGHTS_LEXICAL)):
        now = np.array([current[FEATURES[i]] for i in columns])
        right = 0
        for k in range(args.folds):
            w = fit([g for g in groups if fold[g[0]] != k], columns)
            right += top1([g for g in groups if fold[g[0]] == k], columns, w)
        w = fit(groups, columns)
        print(f"\n{label}: top-1 sentence accuracy, current weights {top1(groups, columns, now) / n:.3f}; "
              f"refitted {args.folds}-fold cross-validated {right / n:.3f}, on all data {top1(groups, columns, w) / n:.3f}")
        weights = {FEATURES[i]: round(float(v), 2) for i, v in zip(columns, w)}
        print(f"{label} = dict(" + ", ".join(f"{k}={v}" for k, v in weights.items()) + ")")


if __name__ == "__main__":
    main()
