"""Which index a Config names: the FAISS + bm25s index folder (default) or a Milvus collection."""
from __future__ import annotations

from rag.config import Config


def load_index(config: Config, embedder_name: str | None = None):
    """rag.index.Index or rag.milvus_index.MilvusIndex: the same methods for retrieval and answering."""
    if config.store == "milvus":
        from rag.milvus_index import MilvusIndex  # pymilvus is imported only when Milvus is chosen

        return MilvusIndex.load(config, embedder_name)
    from rag.index import Index

    return Index.load(config.index_dir, embedder_name)


def index_location(config: Config) -> str:
    """Where the index lives, for messages: the folder or `URI#collection`."""
    return f"{config.milvus_uri}#{config.collection}" if config.store == "milvus" else str(config.index_dir)
