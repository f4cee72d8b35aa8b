"""Tiny random-weight models for offline tests of the optional ML backends.

Nothing here downloads anything: the models are built from a config, a
hand-made WordPiece vocabulary and a fixed seed, then saved to a local
directory with ``save_pretrained``.  They are meaningless (random weights) but
have the exact on-disk layout and APIs of real checkpoints, so code paths that
load ``sentence-transformers`` embedders or a ``transformers`` extractive QA
reader can be exercised without network access.

Verified against sentence-transformers 6.2.0, transformers 5.23.0 and
torch 2.13.0+cpu.

Notes on the installed versions (checked by running code):

* ``transformers`` 5 removed the ``"question-answering"`` pipeline
  (``pipeline("question-answering")`` raises ``KeyError: The task
  question-answering has been removed from transformers``).  The replacement
  for extractive QA is ``AutoModelForQuestionAnswering`` + a fast tokenizer with
  ``return_offsets_mapping=True``; see :func:`extract_span`.
* ``sentence-transformers`` 6: ``SentenceTransformer(path, device="cpu")``,
  ``encode_query`` / ``encode_document`` apply the ``"query"`` / ``"document"``
  entries of ``model.prompts``; the embedding size is
  ``get_embedding_dimension()`` (``get_sentence_embedding_dimension()`` still
  works but emits a ``FutureWarning``); ``model.max_seq_length`` is a
  read/write property.

Only import this module from tests that have already done
``pytest.importorskip("torch")`` etc.: it imports torch/transformers lazily
inside the functions, so importing the module itself is always cheap and safe.
"""

from __future__ import annotations

import pathlib
from typing import Any

__all__ = [
    "QUERY_PROMPT",
    "DOCUMENT_PROMPT",
    "SEED",
    "build_vocab",
    "build_tiny_sentence_transformer",
    "build_tiny_qa_model",
    "extract_span",
]

SEED = 1234
QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "

# Small tiny-BERT hyper-parameters shared by both models.
_HIDDEN = 32
_LAYERS = 2
_HEADS = 2
_INTERMEDIATE = 64
_MAX_POSITIONS = 512
_ST_MAX_SEQ_LENGTH = 128
_QA_MAX_LENGTH = 256

_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# A short Chinese news-like text; its characters (and punctuation) are always in
# the vocabulary even if they fall outside the CJK block added below.
_SAMPLE_TEXT = (
    "新华社北京电 国务院总理今天在人民大会堂会见了来访的外国代表团，双方就经济、"
    "贸易、科技和文化等领域的合作交换了意见。据报道，今年上半年我国国内生产总值"
    "同比增长百分之五点三，就业形势总体稳定，居民消费价格温和上涨。"
    "记者从教育部获悉，全国高考将于六月七日开始。“”‘’《》（）【】、；：？！…—·"
)


def build_vocab() -> list[str]:
    """Deterministic WordPiece vocabulary covering common Chinese text.

    Contents, in order: the BERT special tokens, ASCII digits/letters/
    punctuation, ``##``-continuations of ASCII letters/digits (so words like
    ``GDP`` become ``g ##d ##p`` instead of ``[UNK]``), the characters of a
    sample Chinese text (incl. full-width punctuation), then the whole CJK
    Unified Ideographs basic block U+4E00..U+9FFF (about 21k characters).
    The BERT pre-tokenizer splits every CJK character into its own word, so
    any Chinese text in that block tokenizes without ``[UNK]``.
    """
    import string

    vocab: list[str] = list(_SPECIAL_TOKENS)
    seen = set(vocab)

    def add(tok: str) -> None:
        if tok and tok not in seen and not tok.isspace():
            seen.add(tok)
            vocab.append(tok)

    for ch in string.digits + string.ascii_lowercase + string.ascii_uppercase + string.punctuation:
        add(ch)
    for ch in string.digits + string.ascii_lowercase:
        add("##" + ch)
    for ch in _SAMPLE_TEXT:
        add(ch)
    for cp in range(0x4E00, 0xA000):
        add(chr(cp))
    return vocab


def _bert_config(vocab_size: int, **extra: Any):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=_HIDDEN,
        num_hidden_layers=_LAYERS,
        num_attention_heads=_HEADS,
        intermediate_size=_INTERMEDIATE,
        max_position_embeddings=_MAX_POSITIONS,
        type_vocab_size=2,
        pad_token_id=0,
        **extra,
    )


def _tokenizer(model_max_length: int):
    from transformers import BertTokenizerFast  # alias of BertTokenizer in transformers 5

    vocab = {tok: i for i, tok in enumerate(build_vocab())}
    return BertTokenizerFast(
        vocab=vocab,
        do_lower_case=True,
        tokenize_chinese_chars=True,
        model_max_length=model_max_length,
    )


def _seeded_init(model_cls, config):
    """Instantiate ``model_cls(config)`` with a fixed seed, without touching the
    caller's global RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = model_cls(config)
    model.eval()
    return model


def build_tiny_sentence_transformer(path: pathlib.Path) -> pathlib.Path:
    """Build and save a tiny SentenceTransformer (BERT -> mean pooling -> Normalize).

    The saved model has ``prompts={"query": "query: ", "document": "passage: "}``
    so ``encode_query`` / ``encode_document`` prepend them.  Load it with
    ``SentenceTransformer(str(path), device="cpu")``.  Output dimension is 32.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertModel

    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    hf_dir = path / "_hf_base"

    tokenizer = _tokenizer(_ST_MAX_SEQ_LENGTH)
    config = _bert_config(len(tokenizer))
    bert = _seeded_init(BertModel, config)
    bert.save_pretrained(str(hf_dir))
    tokenizer.save_pretrained(str(hf_dir))

    word = Transformer(str(hf_dir), max_seq_length=_ST_MAX_SEQ_LENGTH)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[word, pooling, Normalize()],
        device="cpu",
        prompts={"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
        similarity_fn_name="cosine",
    )
    model.save(str(path), create_model_card=False)

    # The intermediate plain-HF copy is not needed once the ST model is saved.
    import shutil

    shutil.rmtree(hf_dir, ignore_errors=True)
    return path


def build_tiny_qa_model(path: pathlib.Path) -> pathlib.Path:
    """Build and save a tiny ``BertForQuestionAnswering`` + tokenizer.

    Loadable offline with ``AutoModelForQuestionAnswering.from_pretrained(path)``
    and ``AutoTokenizer.from_pretrained(path)``; use :func:`extract_span` to get an
    answer (transformers 5 has no ``"question-answering"`` pipeline any more).
    """
    from transformers import BertForQuestionAnswering

    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(_QA_MAX_LENGTH)
    config = _bert_config(len(tokenizer))
    model = _seeded_init(BertForQuestionAnswering, config)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def extract_span(
    model_dir: str | pathlib.Path,
    question: str,
    context: str,
    *,
    max_length: int = 384,
    stride: int = 128,
    max_answer_tokens: int = 30,
    device: str = "cpu",
) -> tuple[str, int, int, float]:
    """Extractive QA without ``pipeline("question-answering")`` (removed in transformers 5).

    Returns ``(answer, start, end, score)`` with ``answer == context[start:end]``.
    ``score`` is ``softmax(start_logits)[s] * softmax(end_logits)[e]`` over each
    window (same definition as the old pipeline, in [0, 1]).  Long contexts are
    split into overlapping windows (``stride`` tokens of overlap); only tokens of
    the context (sequence id 1) can be chosen; the best span over all windows
    wins.  The model is loaded on every call: cache it in real code.
    """
    from rag.reader import TransformersReader

    reader = TransformersReader(str(model_dir), max_length=max_length, stride=stride)
    span = reader.read(question, [context])[0]
    return context[span.start:span.end], span.start, span.end, span.probability
