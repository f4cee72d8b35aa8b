"""Extractive question answering over Chinese news, with citations.

Importing this package does no work: models and indexes load only when asked for.
"""
from rag.config import Config
from rag.errors import RagError
from rag.types import Answer, Chunk

__all__ = ["Answer", "Chunk", "Config", "RagError"]
# The one place the version is written: pyproject.toml reads it from here (setuptools `attr`), and each
# index manifest records it.
__version__ = "0.1.0"
