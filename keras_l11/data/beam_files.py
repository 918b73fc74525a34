"""Files of the preparation pipelines on any file system Beam reaches (a
local folder, `gs://...` with Beam's GCP extra, HDFS...): whole-file writes,
matching, and a lock that serialises local runs of one folder."""

import contextlib
import json
import logging
import os
import uuid

_BEAM_LOGGER = logging.getLogger("apache_beam")
_LEVEL = _BEAM_LOGGER.level
_BEAM_LOGGER.setLevel(logging.ERROR)  # on import, Beam warns about each optional file system missing (GCS, S3...)
try:
    from apache_beam.io.filesystems import FileSystems
finally:
    _BEAM_LOGGER.setLevel(_LEVEL)


def join(*parts):
    return "/".join(p.rstrip("/") for p in parts) if "://" in parts[0] else os.path.join(*parts)


def is_local(path):
    return "://" not in path


def write_text(path, text):
    """Writes `path` whole: a temporary name, then renamed (object stores write whole objects anyway)."""
    if is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        staged = f"{path}.part-{uuid.uuid4().hex[:8]}"
        with open(staged, "w") as f:
            f.write(text)
        os.replace(staged, path)
        return
    with FileSystems.create(path) as f:
        f.write(text.encode())


def read_bytes(path):
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read()


def read_json(path):
    return json.loads(read_bytes(path))


def matching(pattern):
    try:
        return [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    except Exception:  # no such folder yet
        return []


def size(path):
    if is_local(path):
        return os.path.getsize(path)
    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


@contextlib.contextmanager
def locked(folder):
    """One local run per folder at a time (the processes of a multi-worker job
    all ask for the same data): the others wait, then find it written."""
    if not is_local(folder):
        yield
        return
    import fcntl

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_partial_files(folder):
    """Files a killed run was writing (`*.part-*`); only called under the folder's lock."""
    if is_local(folder):
        for path in matching(join(folder, "*.part-*")) + matching(join(folder, "shards", "*.part-*")):
            os.remove(path)
