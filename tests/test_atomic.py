"""Atomic writes: complete under the final name or absent, with the permissions `open` and
`mkdir` would give (the process's umask), not the temporary files' private ones."""

import os
import stat

import pytest

from dynvae_keras import atomic


@pytest.fixture
def umask_022():
  old = os.umask(0o022)
  yield
  os.umask(old)


def _mode(path):
  return stat.S_IMODE(os.stat(path).st_mode)


def test_written_directory_and_file_have_the_umask_permissions(tmp_path, umask_022):
  with atomic.atomic_directory(tmp_path / "report") as tmp:
    atomic.save_json(os.path.join(tmp, "runs", "0.json"), {"a": 1})
  assert _mode(tmp_path / "report") == 0o755
  assert _mode(tmp_path / "report" / "runs" / "0.json") == 0o644
  assert atomic.load_json(tmp_path / "report" / "runs" / "0.json") == {"a": 1}


def test_a_failed_write_leaves_nothing_behind(tmp_path):
  with pytest.raises(RuntimeError):
    with atomic.atomic_directory(tmp_path / "report") as tmp:
      open(os.path.join(tmp, "half"), "w").close()
      raise RuntimeError("interrupted")
  with pytest.raises(TypeError):
    atomic.save_json(tmp_path / "x.json", {"a": object()})
  assert os.listdir(tmp_path) == []
