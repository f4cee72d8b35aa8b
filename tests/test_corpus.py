"""Reading the corpus folder (rag/corpus.py): encodings, skipped files, symlinks, messy files end to end."""
import subprocess

import pytest

from rag.build import build_index
from rag.config import Config
from rag.corpus import MAX_FILE_BYTES, decode_bytes, list_corpus_files, load_corpus, read_text
from rag.embedding import make_embedder
from rag.errors import CorpusError
from rag.store.folder import Index
from rag.pipeline import Pipeline
from tests.conftest import TINY_ARTICLES
from tests.helpers import (HASH, article_file_text, check_answer, check_span_maps_to_file, cli_args, covered_positions,
                           no_traceback, run_cli, write_tiny_corpus)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_decodes_common_chinese_encodings(encoding):
    text = TINY_ARTICLES["pingdu.txt"]
    assert decode_bytes(text.encode(encoding)) == text


def test_binary_file_rejected():
    with pytest.raises(CorpusError, match="binary"):
        decode_bytes(b"\x00\x01\x02PK\x00")


def test_bad_files_skipped_with_warning(tiny_corpus):
    (tiny_corpus / "empty.txt").write_bytes(b"")
    (tiny_corpus / "blob.txt").write_bytes(b"\x00\xff" * 100)
    (tiny_corpus / "gbk.txt").write_bytes("青岛新闻\n\n崂山区清理生活垃圾66400吨。".encode("gbk"))
    articles, texts, warnings = load_corpus(tiny_corpus)
    assert any("empty.txt" in w for w in warnings) and any("blob.txt" in w for w in warnings)
    assert "gbk.txt" in texts and any(a.source == "gbk.txt" for a in articles)


def test_symlink_out_of_corpus_not_followed(tiny_corpus, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("外部文件。", encoding="utf-8")
    (tiny_corpus / "link.txt").symlink_to(outside)
    assert "link.txt" not in [p.name for p in list_corpus_files(tiny_corpus)]


def test_missing_corpus_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


# ----------------------------------------------------------------------------------------------
# Messy corpus files: encodings, skipped files, offsets into the decoded text
# ----------------------------------------------------------------------------------------------

MESSY_TEXTS = {
    "gbk.txt": ("gbk", article_file_text("崂山新闻", "崂山区清理生活垃圾66400吨。")),
    "gb18030.txt": ("gb18030", article_file_text("城阳新闻", "城阳区新建口袋公园十二座，取名𠀀园。")),
    "bom.txt": ("utf-8-sig", article_file_text("黄岛新闻", "黄岛区新增绿地三百亩。")),
    "u16le.txt": ("utf-16-le+bom", article_file_text("即墨新闻", "即墨区修路四十公里。")),
    "u16be.txt": ("utf-16-be+bom", article_file_text("莱西新闻", "莱西市种树五千棵。")),
    "新闻 稿 1.txt": ("utf-8", article_file_text("市北新闻", "市北区开通公交线路八条。")),
    "sub/deeper/nested.md": ("utf-8", "# 李沧新闻\n\n李沧区新建学校六所。\n"),
}
SKIPPED = ["big.txt", "binary.txt", "empty.txt", "link.txt"]


def _encode(encoding: str, text: str) -> bytes:
    if encoding == "utf-16-le+bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-16-be+bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Config:
    base = tmp_path_factory.mktemp("messy")
    corpus = write_tiny_corpus(base / "corpus")
    for name, (encoding, text) in MESSY_TEXTS.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_bytes(_encode(encoding, text))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02\xffPK\x03\x04" * 64)
    with open(corpus / "big.txt", "wb") as handle:  # sparse: instant, no disk used
        handle.truncate(MAX_FILE_BYTES + 1)
    (base / "outside.txt").write_text(article_file_text("外部新闻", "外部文件绝不应被索引。"), encoding="utf-8")
    (corpus / "link.txt").symlink_to(base / "outside.txt")
    return Config(corpus_dir=corpus, index_dir=base / "index", embedder=HASH)


@pytest.fixture(scope="module")
def messy_build(messy) -> subprocess.CompletedProcess:
    return run_cli("build", *cli_args(messy))


def test_messy_corpus_builds_and_warns_for_each_skipped_file(messy, messy_build):
    no_traceback(messy_build)
    assert messy_build.returncode == 0, messy_build.stderr.decode(errors="replace")
    stdout = messy_build.stdout.decode("utf-8")
    listed = stdout.split("not indexed: ", 1)[-1]  # the summary lists every file not indexed, with its reason
    for name in SKIPPED:
        assert f"\n  {name}: " in listed, f"the summary does not list {name}: {stdout}"
    assert "indexed 9 files" in stdout and f"not indexed: {len(SKIPPED)} files" in stdout
    index = Index.load(messy.index_dir, HASH)
    assert sorted(index.sources) == sorted([*TINY_ARTICLES, *MESSY_TEXTS])
    for name, (_, text) in MESSY_TEXTS.items():
        assert index.sources[name] == text  # decoded exactly (the BOM is not part of the text)
    assert not any("外部文件" in chunk.text for chunk in index.chunks)
    for chunk in index.chunks:  # every chunk maps into the decoded text
        check_span_maps_to_file(chunk, index.sources[chunk.source], 0, len(chunk.text), chunk.start,
                                max(o for _, o in covered_positions(chunk, 0, len(chunk.text))) + 1)


@pytest.mark.parametrize("question, source, short", [
    ("崂山区清理生活垃圾多少吨？", "gbk.txt", "66400吨"),
    ("城阳区新建口袋公园多少座？", "gb18030.txt", None),
    ("即墨区修路多少公里？", "u16le.txt", None),
    ("莱西市种树多少棵？", "u16be.txt", None),
    ("市北区开通公交线路几条？", "新闻 稿 1.txt", None),
    ("李沧区新建学校几所？", "sub/deeper/nested.md", None),
])
def test_messy_corpus_answers_cite_decoded_offsets(messy, messy_build, question, source, short):
    index = Index.load(messy.index_dir, HASH)
    from rag.reader import load_reader

    pipeline = Pipeline(messy, index, make_embedder(HASH), load_reader("bundled"))  # not Pipeline.load: see below
    answer = pipeline.ask(question)
    check_answer(answer, pipeline, question)
    assert not answer.abstained and answer.chunk.source == source
    assert index.sources[source] == read_text(messy.corpus_dir / source)
    if short:
        assert index.sources[source][answer.short_span.start:answer.short_span.end] == short


def test_messy_corpus_index_loads(messy, messy_build):
    """Pipeline.load's staleness check skips the binary/oversized files the build skipped, instead of
    raising CorpusError from read_text on them and leaving the index unloadable (docs/reliability.md, bug 3)."""
    pipeline = Pipeline.load(messy)
    assert not pipeline.ask("崂山区清理生活垃圾多少吨？").abstained


def test_file_without_article_text_does_not_make_index_stale(tiny, tmp_path):
    """A file the build skips ("no article text found") is not fingerprinted by Pipeline.load either,
    so the freshly built index is not reported stale (docs/reliability.md, bug 4)."""
    corpus = write_tiny_corpus(tmp_path / "corpus")
    (corpus / "heading_only.txt").write_text("只有一个标题\n", encoding="utf-8")
    config = tiny.with_(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = build_index(config)
    assert any("heading_only.txt" in w for w in report.warnings)
    Pipeline.load(config)


def test_symlink_skip_is_in_the_build_report(messy):
    """The outside-pointing symlink is named in BuildReport.warnings (what the app and `add` show), like
    every other skipped file, not only logged (docs/reliability.md, bug 8)."""
    report = build_index(messy.with_(index_dir=messy.index_dir.parent / "index2"))
    assert sorted(name for name in SKIPPED if any(name in w for w in report.warnings)) == SKIPPED
