"""The one library API the CLI and the app stand on: load an index once, answer many questions."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from rag.answer import extract_answer
from rag.config import Config
from rag.crosslingual import load_lexicon, searched_as
from rag.dialogue import FOLLOW_UP_WITHOUT_CONTEXT, needs_context, resolve_follow_up
from rag.embedding import Embedder, make_embedder
from rag.question import EMPTY_QUESTION, analyse, clean_question, has_content
from rag.retrieval import query_text, retrieve
from rag.sentences import SentenceSimilarity
from rag.store import SearchIndex
from rag.store.memory import joined
from rag.types import Answer, Chunk


@dataclass
class Pipeline:
    config: Config
    index: SearchIndex  # rag.store.folder.Index or rag.store.milvus_index.MilvusIndex
    embedder: Embedder
    reader: object = None  # what rag.reader.load_reader gives (run/read), None for reader "none"
    note: str = ""  # one line about how the index was loaded (e.g. served as built: its corpus is not here)
    lexicon: object = None  # rag.crosslingual.Lexicon of the index's words, for English questions

    @classmethod
    def load(cls, config: Config, build_if_needed: bool = False,
             progress: Callable[[str], None] | None = None) -> "Pipeline":
        """Load the index and its embedder once.

        The index is checked against the corpus folder it records that it was built from (rag.provenance);
        a different config.corpus_dir is a CorpusMismatch. With build_if_needed, a missing or stale index is
        (re)built, from the corpus it was built from. A note about the load (e.g. that the corpus folder is
        gone, so the index is served as built) goes to `progress` and into `info["note"]`. The checks and the
        build are rag.build.check_index and rag.build.ensure_index.
        """
        from rag.build import check_index, ensure_index

        say = progress or (lambda message: None)
        embedder = None
        if build_if_needed:
            index, embedder, note = ensure_index(config, say)
        else:
            index, note = check_index(config)
        if note:
            say(note)
        if embedder is None:
            say(f"loading embedder {config.embedder}…")
            embedder = make_embedder(config.embedder, config.batch_size)
        analyse("青岛在哪里？")  # opens jieba's word table (built on a first run, ≈ 2 s) now, not in the first answer
        return cls(config, index, embedder, _load_reader(config), note, _load_lexicon(index))

    def warm_up(self) -> float:
        """Read now what the first question of a kind would otherwise wait for, and return the seconds it took:
        CC-CEDICT's common English words (the first English question, ≈ 0.7 s) and jieba's part-of-speech table
        (the first follow-up, ≈ 1.5 s). Safe beside questions being answered (the dictionary is read under a lock,
        the table by an import), so the app runs it in the background while it starts serving; the CLI, one
        question a process, does not."""
        from rag.cedict import common_english
        from rag.lexical import tagged_words

        started = time.perf_counter()
        common_english("news")
        tagged_words("那平度呢？")
        return time.perf_counter() - started

    @property
    def info(self) -> dict:
        manifest = self.index.manifest
        return {"embedder": manifest.get("embedder"), "index_dir": str(self.index.folder),
                "articles": manifest.get("articles"), "chunks": manifest.get("chunks"),
                "built_at": manifest.get("built_at"), "note": self.note,
                "reader": None if self.reader is None else self.config.reader.replace("bundled", "models/reader-zh")}

    def original_text(self, chunk: Chunk) -> str:
        return self.index.original_text(chunk)

    def similarity_to(self, query_vector, index: SearchIndex | None = None) -> SentenceSimilarity:
        """The question's cosine with each answer sentence of a retrieved chunk (None for a chunk the index
        has no sentence vectors for: rag.sentences then scores the question without them)."""
        index = self.index if index is None else index
        return lambda chunk: index.sentence_similarity(chunk, query_vector)

    def ask(self, question: object, top_k: int | None = None, history: Sequence[str] = (),
            mode: str = "hybrid", extra: SearchIndex | None = None) -> Answer:
        """Answer one question (its latency_ms set). Never raises for bad questions: they get an abstention
        with a note. A follow-up ("那平度呢？") is read against `history`; with none it asks for a full question.
        `extra`: a chat session's own index (rag.uploads), searched together with the shared one."""
        started = time.perf_counter()
        index = joined(self.index, extra)
        text, notes = clean_question(question, self.config.max_question_chars)
        if not has_content(text):
            answer = Answer(question=text, text=EMPTY_QUESTION, chunk=None, abstained=True, notes=notes)
        elif not any(h and h.strip() for h in history) and needs_context(text):
            answer = Answer(question=text, text=FOLLOW_UP_WITHOUT_CONTEXT, chunk=None, abstained=True, notes=notes)
        else:
            resolved = resolve_follow_up(text, history) if history else text
            if resolved != text:
                notes += (f"理解为：{resolved}",)
            analysed = analyse(resolved, self.lexicon)
            if analysed.searched_as:
                notes += (searched_as(analysed.searched_as),)
            k = max(1, min(top_k or self.config.top_k, 100))
            vector = self.embedder.embed_queries([query_text(analysed)])[0]
            chunks = retrieve(index, vector, analysed, self.config, k=max(k, 10), mode=mode)
            answer = extract_answer(analysed, chunks, k, self.config.abstain_threshold, asked=text, notes=notes,
                                    source_text=index.article_text, similarity=self.similarity_to(vector, index),
                                    reader=self.reader)
        return replace(answer, latency_ms=(time.perf_counter() - started) * 1000)


def _load_lexicon(index: SearchIndex):
    """The index's stored lexicon (crosslingual.json), or one built from its chunks (an older index, Milvus)."""
    folder = index.folder if not isinstance(index.folder, str) else None
    return load_lexicon(folder, (chunk.text for chunk in index.chunks))


def _load_reader(config: Config):
    from rag.reader import load_reader

    return load_reader(config.reader)
