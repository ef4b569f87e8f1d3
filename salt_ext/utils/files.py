"""Small file helpers shared by the utils (atomic writes)."""

import os
import tempfile


def atomic_write(path, data, mode=0o600, *, fsync=False):
    """
    Write ``data`` (bytes or str) to ``path`` atomically: a temporary file beside it (created
    0600, so nobody reads it half-written or before its mode is set), chmod ``mode``, renamed
    over ``path``. The temporary file is removed on any error.
    """
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
