"""vineyard.shared_memory: SharedMemory and ShareableList over blobs of the
store, after Python's multiprocessing.shared_memory (as upstream Vineyard
offers them). See shared_memory.py."""
from .shared_memory import ShareableList, SharedMemory

__all__ = ["SharedMemory", "ShareableList"]
