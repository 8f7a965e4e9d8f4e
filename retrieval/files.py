"""Writing a file so that a reader never sees half of it.

Stores, rankers, calibrations and exports are replaced by a whole new file or not at all: the
bytes go to a unique temporary file in the same folder, are flushed to disk, and the temporary
file is renamed over the old one (atomic on POSIX); on failure the temporary file is removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Replace `path` with `data` (text is written as UTF-8) in one step; the folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
