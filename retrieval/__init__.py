"""Product and FAQ retrieval for shopassist.

Importing this package is cheap on purpose: torch, sentence-transformers and chromadb are only
imported by the components that need them, when they are first used.
"""

from retrieval.offline import set_offline_env

__all__ = ["set_offline_env"]
