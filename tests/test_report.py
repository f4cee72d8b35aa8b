"""What a build or an `add` says it did (rag/report.py), and the import rule that put it there."""
from __future__ import annotations

import ast
from pathlib import Path

from rag.report import BuildReport, FileChanges, count

ROOT = Path(__file__).resolve().parent.parent


def test_counted_nouns_agree_with_the_number():
    assert [count(n, "source") for n in (0, 1, 2)] == ["0 sources", "1 source", "2 sources"]
    one = BuildReport(Path("ix"), 1, 1, 1, 1, 0.5, added=1, kept=2)
    assert one.summary().startswith("indexed 1 file → 1 article → 1 chunk (1 embedded, 0 from cache)")
    assert one.add_summary().startswith("added 1 source, replaced 0, kept 2 → 1 new article → 1 new chunk")
    many = BuildReport(Path("ix"), 3, 4, 5, 0, 0.5, added=2, changes=FileChanges(("a",), ("b",), (), ()), kept_added=1)
    assert many.summary().startswith("indexed 3 files → 4 articles → 5 chunks")
    assert many.add_summary().startswith("added 2 sources")
    assert "refreshed: 1 unchanged, 1 changed, 0 new, 0 removed; kept 1 file added" in many.summary()


def test_storage_does_not_import_the_build_step():
    """rag/store/ is below rag/build.py: the Milvus `add` took BuildReport and read_files_to_add from it,
    an import circle (issue 21, item 13)."""
    for path in sorted((ROOT / "rag" / "store").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("rag.build", "rag.write"), f"{path.name} imports {node.module}"
