"""Shared fixtures: a tiny Chinese corpus and a deterministic fake embedder, so unit tests need no model."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rag.config import Config

ROOT = Path(__file__).resolve().parent.parent

# tests/helpers.py holds assertions (check_answer, no_traceback, ...): let pytest explain their failures.
pytest.register_assert_rewrite("tests.helpers")


# A test run must leave the work tree as it found it: tests write only to tmp_path. The README's
# screenshots are made by `python scripts/screenshots.py`, the committed index by `python -m rag build`.
def _work_tree_status() -> str | None:
    try:
        result = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None  # None: not a git work tree (e.g. an sdist)


def pytest_sessionstart(session):
    session.config._work_tree_before = _work_tree_status()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_work_tree_before", None)
    after = _work_tree_status()
    if before is None or after is None or after == before:
        return
    changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
    print("\nerror: the test run changed the work tree (tests must write only to tmp_path):\n  "
          + "\n  ".join(changed))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED

TINY_ARTICLES = {
    "pingdu.txt": (
        "深化农业农村改革 助力乡村振兴\n\n"
        "本报12月18日讯 平度市农业农村新闻发布会举行。平度市还积极推进高标准农田建设，累计建成高标准农田155.2万亩，"
        "并建成全省首家粮食院\n\n"
        "三里河街道党委举行揭牌仪式。(资料图)\n\n"
        "士专家工作站。粮食产量稳定在29亿斤以上。\n\n"
        "(观海新闻/青岛晚报 记者 马丙政)\n"
    ),
    "jiaozhou.md": (
        "# 聚焦重点难点 打好创城攻坚战\n\n"
        "□本报记者 张晓帆\n\n"
        "今年以来，胶州市探索成立5个片区联合党委，全面整合各类资源。\n\n"
        "今年以来，胶州市探索成立5个片区联合党委，全面整合各类资源。\n\n"
        "## 精准施策\n\n"
        "澳门路农贸市场片区共查处电动车不戴头盔128起，停车秩序得到很大改观。\n"
    ),
}


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in TINY_ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def tiny_config(tiny_corpus: Path, tmp_path: Path) -> Config:
    return Config(corpus_dir=tiny_corpus, index_dir=tmp_path / "index", embedder="hash:64", chunk_size=60)


@pytest.fixture
def tiny_index(tiny_config: Config) -> Config:
    from rag.build import build_index

    build_index(tiny_config)
    return tiny_config


# One tiny index per test module (default chunking, so the CLI's config matches it), and a copy of it
# a test may damage.
@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Config:
    from rag.build import build_index
    from tests.helpers import HASH, write_tiny_corpus

    base = tmp_path_factory.mktemp("tiny")
    config = Config(corpus_dir=write_tiny_corpus(base / "corpus"), index_dir=base / "index", embedder=HASH)
    build_index(config)
    return config


@pytest.fixture
def index_copy(tiny, tmp_path) -> Config:
    shutil.copytree(tiny.index_dir, tmp_path / "index")
    return tiny.with_(index_dir=tmp_path / "index")
