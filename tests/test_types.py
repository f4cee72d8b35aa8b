from dataclasses import FrozenInstanceError, replace

import pytest

from rag.types import Chunk


def test_chunk_is_immutable_and_scores_attach_by_replace():
    chunk = Chunk(text="平度市累计建成高标准农田155.2万亩。", source="a.txt", title="标题", start=10, end=29)
    with pytest.raises(FrozenInstanceError):
        chunk.score = 1.0
    scored = replace(chunk, score=0.5)
    assert scored.score == 0.5 and chunk.score is None and scored.id == chunk.id


def test_offsets_map_through_pieces():
    # "采" at file 100, then a caption was skipped, then "取宣传" at file 140.
    chunk = Chunk(text="采取宣传", source="a.txt", title="t", start=100, end=143, pieces=((0, 100, 101), (1, 140, 143)))
    assert chunk.to_file_offset(0) == 100
    assert chunk.to_file_offset(1) == 140
    assert chunk.to_file_offset(3) == 142
    assert Chunk.from_dict(chunk.to_dict()) == chunk
