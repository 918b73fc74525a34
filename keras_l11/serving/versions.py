"""Version folders as TF Serving reads them, without TensorFlow (clients and
commands use this too)."""

import logging
import os

log = logging.getLogger("serving")

_INT64 = (-(1 << 63), (1 << 63) - 1)


def parse_version(child):
    """A version folder's number as TF Serving reads it (`absl::SimpleAtoi` in
    `file_system_storage_path_source.cc`, `ParseVersionNumber`): optional
    surrounding spaces and sign, then decimal digits that fit an int64; `03` is
    version 3. Anything else is not a version (None)."""
    text = child.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        return None
    number = int(text)
    return number if _INT64[0] <= number <= _INT64[1] else None


def versions_on_disk(base_path):
    """`{version: folder name}` of the version folders under `base_path`. Two
    names of one number (`3`, `03`): the last in sorted order, as TF Serving
    keeps the last it lists (with a warning)."""
    try:
        entries = sorted(os.listdir(base_path))
    except OSError:
        return {}
    found = {}
    for child in entries:
        version = parse_version(child)
        if version is not None and os.path.isdir(os.path.join(base_path, child)):
            if version in found:
                log.warning("duplicate version folders %s and %s under %s", found[version], child, base_path)
            found[version] = child
    return found
