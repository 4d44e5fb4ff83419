"""Which read models can be rebuilt: the store's registry (one line per model) says."""

from shopfloor.store.registry import ReadModel, find, read_models

__all__ = ["ReadModel", "find", "read_models"]
