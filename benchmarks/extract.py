"""Extraction time per MB for each reader (rag/readers), on files made from the seed articles' own text.

    python benchmarks/extract.py [--copies 20]

Each seed page dump becomes an HTML news page (navigation, scripts, sidebar, footer around it), a PDF with a
text layer (40 lines of 30 characters a page), a Word file and a JSONL record; `--copies` of each are read
with rag.readers.read_document, as a build reads them. Prints MB read, seconds, seconds per MB of file and
per million characters extracted. Measures the readers only: chunking and embedding are the build's
(benchmarks/build.py).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python benchmarks/extract.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.documents import make_docx, make_html, make_jsonl, make_pdf  # noqa: E402
from rag.corpus import read_text  # noqa: E402
from rag.readers import read_document  # noqa: E402


def seed_files(folder: Path, copies: int) -> dict[str, list[Path]]:
    """{format: files} made from the seeds."""
    made: dict[str, list[Path]] = {kind: [] for kind in ("txt", "html", "pdf", "docx", "jsonl")}
    for number, seed in enumerate(sorted((ROOT / "seeds").glob("*.txt"))):
        text = read_text(seed)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        title, body = lines[0].lstrip("# "), lines[1:]
        wrapped = [para[i:i + 30] for para in body for i in range(0, len(para), 30)]
        raw = {"txt": text.encode("utf-8"), "html": make_html(title, body, date="2022-12-20", site="青岛新闻网"),
               "pdf": make_pdf([wrapped[i:i + 40] for i in range(0, len(wrapped), 40)], created="2022-12-20"),
               "docx": make_docx(title, body),
               "jsonl": make_jsonl([{"title": title, "content": "\n".join(body), "date": "2022-12-20"}])}
        for copy in range(copies):
            for kind, data in raw.items():
                path = folder / f"{number}_{copy}.{kind}"
                path.write_bytes(data)
                made[kind].append(path)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20, help="copies of each seed file per format (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        made = seed_files(Path(folder), args.copies)
        for paths in made.values():  # import each reader's library once before timing
            read_document(paths[0], paths[0].name)
        # CPU seconds of this process (the wall clock on shared cores counts other jobs' time too)
        print(f"{'format':6} {'files':>5} {'MB':>6} {'M chars':>7} {'wall s':>6} {'CPU s':>6} {'CPU s/MB':>8} "
              f"{'CPU s/M chars':>13} {'ms/file':>7}")
        for kind, paths in made.items():
            size = sum(p.stat().st_size for p in paths) / 1e6
            started, cpu = time.perf_counter(), time.process_time()
            chars = sum(len(read_document(p, p.name).text) for p in paths) / 1e6
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"{kind:6} {len(paths):5d} {size:6.2f} {chars:7.3f} {wall:6.2f} {cpu:6.2f} {cpu / size:8.2f} "
                  f"{cpu / chars:13.2f} {cpu / len(paths) * 1000:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
