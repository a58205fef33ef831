"""Where a data set's images came from, recorded with every result that used them.

A `dsprites_*` run uses the official file when it is present and the procedural renderer
otherwise, so two runs of the same config can see different images. `describe(data)` states
which: the data set's `source` description and, for each file its images were read from, the
file's SHA-256. The training, postprocessing and evaluation steps write it into their
`results/json/<step>_config.json` (keys `dataset.source`, `dataset.files`), from where it
reaches every aggregate JSON.
"""

from __future__ import annotations

import hashlib
import os

from dynvae_keras import results

_CHECKSUMS = {}  # (path, size, mtime) → sha256: each file is read once per process


def sha256(path: str) -> str:
  """The SHA-256 hex digest of a file (cached per process by path, size and mtime)."""
  stat = os.stat(path)
  key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
  if key not in _CHECKSUMS:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
      for block in iter(lambda: f.read(1 << 22), b""):
        digest.update(block)
    _CHECKSUMS[key] = digest.hexdigest()
  return _CHECKSUMS[key]


def describe(data) -> dict:
  """{'dataset.source': ..., 'dataset.files': ...} as gin-style value strings for a config JSON.

  `dataset.source` is the data set's `source` description (e.g. "real /data/dsprites/...npz" or
  "procedural dSprites renderer 1 (dynvae-keras 0.1.0)"); `dataset.files` maps each file the
  images came from (`data.source_files`) to its SHA-256, "{}" when none (procedural data).
  """
  files = {path: sha256(path) for path in getattr(data, "source_files", ())}
  return {"dataset.source": repr(str(getattr(data, "source", type(data).__name__))),
          "dataset.files": results.json_config_value(files)}
