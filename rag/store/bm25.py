"""The lexical half of the index folder: a bm25s index over the jieba tokens of each passage.

Tokenizing is rag.lexical's job; this module only turns token lists into a saved-to-disk BM25 index
whose files are identical from build to build.
"""
from __future__ import annotations


def make_bm25(token_lists: list[list[str]]):
    """A bm25s.BM25 over `token_lists`, one document per chunk, in chunk order."""
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG and chats on stderr
    retriever = bm25s.BM25()
    # bm25s cannot index an empty document; a placeholder token keeps positions aligned with chunks.
    docs = [tokens or ["\u2400"] for tokens in token_lists]
    # A sorted vocabulary makes the saved files identical from build to build (no churn in index/).
    vocab = {token: number for number, token in enumerate(sorted({t for doc in docs for t in doc}))}
    ids = [[vocab[t] for t in doc] for doc in docs]
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return retriever
