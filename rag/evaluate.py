"""`python -m rag eval DATA`: retrieval and answer quality on SQuAD-style JSON or a JSONL of questions.

SQuAD-style data (CMRC 2018) brings its own passages: the harness indexes them in a cache folder
(built once per data file, embedder and chunking) and asks every question against that index.
A JSONL of {"id", "question", "answers", "source"} is asked against the configured index;
`source: null` marks a question the corpus cannot answer (the right reply is to abstain).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rag.config import Config
from rag.articles import Article
from rag.errors import CorpusError, RagError
from rag.metrics import abstention_scores, cmrc_em, cmrc_f1, mrr, percentile, recall_at_k
from rag.types import Chunk

CACHE = Path(".cache/rag/eval")


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    source: str | None  # None: the corpus holds no answer
    spans: tuple[tuple[int, int], ...] = ()  # gold answer offsets in the source text, when known


SHORT_GOLD_CHARS = 10  # the numbers, dates, names and places news readers ask for


def load_squad(path: Path) -> tuple[list[Article], dict[str, str], list[EvalQuestion]]:
    try:
        data = json.loads(_read_text(path))
    except ValueError as error:
        raise CorpusError(f"{path}: not JSON ({error}); expected SQuAD-style data (data → paragraphs → qas)") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{path}: expected SQuAD-style data (data → paragraphs → qas), not a JSON {type(data).__name__}")
    articles, sources, questions = [], {}, []
    for item in data.get("data", []):
        for paragraph in item.get("paragraphs", []):
            context = paragraph["context"]
            name = str(paragraph.get("id") or f"{item.get('id', len(sources))}")
            sources[name] = context
            articles.append(Article(source=name, title=item.get("title", ""), number=0,
                                    paragraphs=[[(context, 0, len(context))]], sections=[""]))
            for qa in paragraph.get("qas", []):
                answers = tuple(a["text"] for a in qa.get("answers", []) if a.get("text"))
                spans = []
                for a in qa.get("answers", []):
                    start = a.get("answer_start", -1)
                    if context[start:start + len(a["text"])] != a["text"]:
                        start = context.find(a["text"])  # a few offsets in the data are off
                    if start >= 0:
                        spans.append((start, start + len(a["text"])))
                # SQuAD 2.0's unanswerable questions (is_impossible) have no answers: the corpus cannot answer them.
                questions.append(EvalQuestion(qa["id"], qa["question"], answers, name if answers else None, tuple(spans)))
    if not questions:
        raise CorpusError(f"{path} holds no SQuAD-style questions (data → paragraphs → qas)")
    return articles, sources, questions


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise CorpusError(f"cannot read {path} ({error.strerror or error})") from None


def load_jsonl(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            listed = row.get("answers") or []
            if not isinstance(listed, list) or not all(isinstance(a, str) for a in listed):
                raise TypeError(f"answers must be a list of strings, not {listed!r}")
            answers, source = tuple(listed), row.get("source") or None
            question = EvalQuestion(str(row.get("id", number)), row["question"], answers, source)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CorpusError(f"{path}:{number}: not a question object ({error}); expected "
                              '{"id", "question", "answers", "source"}') from None
        # An answerable question needs both (where to find it, what it is); an unanswerable one has neither.
        if bool(answers) != bool(source):
            raise CorpusError(f"{path}:{number}: " + ("answers without a source file" if answers else
                              f"source {source!r} without answers") + '; give both, or "answers": [] and '
                              '"source": null for a question the corpus cannot answer')
        questions.append(question)
    return questions


def squad_pipeline(path: Path, config: Config, articles, sources):
    """A pipeline over the data's own passages, built once into the eval cache."""
    from rag.chunking import chunk_articles
    from rag.embedding import make_embedder
    from rag.embedding_cache import cache_from_index
    from rag.pipeline import Pipeline
    from rag.store.layout import build_lock
    from rag.store.manifest import text_hash
    from rag.write import IndexContent, embed_and_write

    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:10]
    embedder = make_embedder(config.embedder, config.batch_size)
    safe = "".join(c if c.isalnum() else "-" for c in embedder.name)[-40:]
    folder = CACHE / f"{path.stem}-{digest}-{safe}-{config.chunk_size}-{config.chunk_overlap}"
    config = config.with_(index_dir=folder, corpus_dir=folder / "no-corpus")
    if config.store == "milvus":  # the data's passages get their own collection (vectors reused from the folder)
        config = config.with_(collection=f"eval_{digest}_{text_hash(embedder.name)[:8]}_{config.chunk_size}_{config.chunk_overlap}")
    try:
        return Pipeline.load(config)
    except RagError:
        pass
    chunks = chunk_articles(articles, config.chunk_size, config.chunk_overlap)
    with build_lock(folder):
        cache = {}
        for other in CACHE.glob(f"{path.stem}-{digest}-{safe}-*"):  # other chunk sizes share many passages
            cache.update(cache_from_index(other, embedder.name))
        fingerprint = {name: text_hash(text) for name, text in sources.items()}
        embed_and_write(config, embedder, IndexContent(chunks, sources, len(articles), fingerprint),
                        cache=cache, progress=True)
    return Pipeline.load(config)


def is_relevant(chunk: Chunk, q: EvalQuestion) -> bool:
    if chunk.source != q.source:
        return False
    if q.spans:
        # The chunk holds the gold answer; an answer longer than the chunk counts where they overlap.
        return any((chunk.start <= a and b <= chunk.end)
                   or (b - a > chunk.end - chunk.start and a < chunk.end and chunk.start < b) for a, b in q.spans)
    return any(answer in chunk.text for answer in q.answers)


def evaluate(path: Path, config: Config, limit: int | None = None, modes=("hybrid", "bm25", "dense")) -> dict:
    from rag.pipeline import Pipeline

    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path} does not exist")
    if path.suffix == ".json":
        articles, sources, questions = load_squad(path)
        pipeline = squad_pipeline(path, config, articles, sources)
    else:
        questions = load_jsonl(path)
        pipeline = Pipeline.load(config)
    questions = questions[:limit] if limit else questions
    report = {"data": str(path), "questions": len(questions), "embedder": pipeline.index.manifest["embedder"],
              "chunks": len(pipeline.index.chunks), "chunking": config.chunking(), "modes": {}}
    for mode in modes:
        report["modes"][mode] = _evaluate_mode(pipeline, questions, mode)
    return report


def _evaluate_mode(pipeline, questions: list[EvalQuestion], mode: str) -> dict:
    pipeline.ask("预热 warm-up", mode=mode)  # loads jieba's dictionary etc. outside the timings
    ranks, hits, ems, f1s, latencies, abstained, answerable, misses = [], [], [], [], [], [], [], []
    short_gold, short_shown = [], []
    for q in questions:
        answer = pipeline.ask(q.question, top_k=10, mode=mode)
        latencies.append(answer.latency_ms)
        answerable.append(q.source is not None)
        abstained.append(answer.abstained)
        if q.source is None:
            continue
        # Citations put the answer's chunk first; recall ranks by retrieval score.
        ordered = sorted(answer.citations, key=lambda c: -(c.score or 0))
        rank = next((i for i, c in enumerate(ordered, 1) if is_relevant(c, q)), None)
        ranks.append(rank)
        hit = (not answer.abstained and answer.chunk is not None and answer.chunk.source == q.source
               and any(a in answer.text for a in q.answers))
        hits.append(hit)
        # What the user reads first: the short answer where one is shown, else the answer sentence.
        shown = "" if answer.abstained else (answer.short_answer or answer.text)
        ems.append(cmrc_em(shown, list(q.answers)))
        f1s.append(cmrc_f1(shown, list(q.answers)))
        short_gold.append(min(map(len, q.answers)) <= SHORT_GOLD_CHARS)
        short_shown.append(bool(answer.short_answer) and not answer.abstained)
        if not hit and len(misses) < 20:
            misses.append({"id": q.id, "question": q.question, "gold": q.answers[:1], "answer": answer.text[:80],
                           "short": answer.short_answer, "rank": rank})
    n = len(ranks) or 1
    result = {
        "recall@1": recall_at_k(ranks, 1), "recall@5": recall_at_k(ranks, 5), "recall@10": recall_at_k(ranks, 10),
        "mrr": mrr(ranks), "answer_sentence_hit": sum(hits) / n, "short_em": sum(ems) / n, "short_f1": sum(f1s) / n,
        "latency_p50_ms": percentile(latencies, 50), "latency_p95_ms": percentile(latencies, 95),
        "split": _split(ems, f1s, short_gold, short_shown),
        "abstained_answerable": sum(a for a, ok in zip(abstained, answerable) if ok) / n,
        "misses": misses,
    }
    if not all(answerable):
        result["abstention"] = abstention_scores(abstained, answerable)
        result["answered_correctly"] = f"{sum(hits)}/{len(ranks)}"
    return result


def _split(ems, f1s, short_gold, short_shown) -> dict:
    """EM/F1 on questions whose gold answer is short (≤ SHORT_GOLD_CHARS) vs long, and how often a short
    answer is shown with its precision (EM among the shown)."""
    def mean(values):
        return sum(values) / len(values) if values else 0.0

    pick = lambda flags, values, want=True: [v for f, v in zip(flags, values) if f == want]  # noqa: E731
    return {"short_gold": len(pick(short_gold, ems)), "short_em": mean(pick(short_gold, ems)),
            "short_f1": mean(pick(short_gold, f1s)), "long_em": mean(pick(short_gold, ems, False)),
            "long_f1": mean(pick(short_gold, f1s, False)), "shown": mean(short_shown),
            "shown_em": mean(pick(short_shown, ems))}


def format_report(report: dict) -> str:
    lines = [f"{report['data']}: {report['questions']} questions, {report['chunks']} chunks, "
             f"embedder {report['embedder']}, chunking {report['chunking']}", ""]
    header = ["mode", "R@1", "R@5", "R@10", "MRR", "sent hit", "EM", "F1", "wrongly abstained", "abst P/R",
              "p50 ms", "p95 ms"]
    lines.append(" | ".join(header))
    lines.append(" | ".join("---" for _ in header))
    for mode, r in report["modes"].items():
        abst = r.get("abstention")
        lines.append(" | ".join([
            mode, f"{r['recall@1']:.3f}", f"{r['recall@5']:.3f}", f"{r['recall@10']:.3f}", f"{r['mrr']:.3f}",
            f"{r['answer_sentence_hit']:.3f}", f"{r['short_em']:.3f}", f"{r['short_f1']:.3f}",
            f"{r['abstained_answerable']:.3f}", f"{abst['precision']:.2f}/{abst['recall']:.2f}" if abst else "–",
            f"{r['latency_p50_ms']:.1f}", f"{r['latency_p95_ms']:.1f}",
        ]))
    lines += ["", f"gold ≤ {SHORT_GOLD_CHARS} chars: n | EM | F1 || longer: EM | F1 || short answer shown | its EM",
              "--- | --- | --- | --- | --- | --- | ---"]
    for mode, r in report["modes"].items():
        s = r["split"]
        lines.append(f"{mode}: {s['short_gold']} | {s['short_em']:.3f} | {s['short_f1']:.3f} | {s['long_em']:.3f} | "
                     f"{s['long_f1']:.3f} | {s['shown']:.3f} | {s['shown_em']:.3f}")
    return "\n".join(lines)
