"""Atomic writes: a file or directory appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile

import numpy as np


def _umask():
  """The process's umask, read without changing it where Linux tells it (/proc/self/status):
  setting it, even briefly, races with files other threads create."""
  try:
    with open("/proc/self/status", encoding="ascii") as f:
      for line in f:
        if line.startswith("Umask:"):
          return int(line.split()[1], 8)
  except OSError:
    pass
  mask = os.umask(0o077)
  os.umask(mask)
  return mask


@contextlib.contextmanager
def atomic_directory(path: str, overwrite: bool = False):
  """Yields a temporary sibling directory that replaces `path` when the block succeeds.

  On an exception the temporary directory is removed and `path` is left as it was.
  """
  path = os.path.abspath(path)
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  if os.path.exists(path) and not overwrite:
    raise FileExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it.")
  tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
  os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0o700 would hide results from the user's group
  try:
    yield tmp
    if os.path.exists(path):
      old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
      os.replace(path, os.path.join(old, "x"))
      os.replace(tmp, path)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.replace(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


@contextlib.contextmanager
def atomic_file(path: str):
  """Yields a temporary path in the same directory that is renamed to `path` on success."""
  path = os.path.abspath(path)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  base, ext = os.path.splitext(os.path.basename(path))
  fd, tmp = tempfile.mkstemp(prefix=f".{base}.tmp-", suffix=ext, dir=os.path.dirname(path))
  os.close(fd)
  os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it, not mkstemp's 0o600
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


class _NumpyEncoder(json.JSONEncoder):
  """Encodes numpy scalars and arrays (and anything with `.item()`) as JSON."""

  def default(self, o):  # pylint: disable=method-hidden
    if isinstance(o, np.ndarray):
      return o.tolist()
    if isinstance(o, (np.floating, np.integer, np.bool_)):
      return o.item()
    if hasattr(o, "item"):
      return o.item()
    return super().default(o)


def save_json(path: str, obj) -> None:
  """Writes `obj` as indented JSON atomically (numpy values allowed)."""
  with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    json.dump(obj, f, cls=_NumpyEncoder, indent=2, sort_keys=True)


def load_json(path: str):
  with open(path, encoding="utf-8") as f:
    return json.load(f)
