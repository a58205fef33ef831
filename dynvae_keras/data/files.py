"""Where user-supplied data files live, and the errors raised when they are missing or malformed.

Like dlib, files are looked up under ``$DISENTANGLEMENT_LIB_DATA`` (default: the current
directory) with dlib's relative paths.
"""

from __future__ import annotations

import os

from dynvae_keras.errors import DynvaeError

DATA_ROOT_ENV = "DISENTANGLEMENT_LIB_DATA"


class DatasetNotFoundError(DynvaeError, FileNotFoundError):
  """A data set's files are not where they are expected."""


class UnknownDatasetError(DynvaeError, ValueError):
  """A data set name that is not one of dlib's names."""


class DatasetFormatError(DynvaeError, ValueError):
  """A data set's file exists but does not have the expected schema."""


def data_root() -> str:
  """The data root: ``$DISENTANGLEMENT_LIB_DATA`` or, as in dlib, the current directory."""
  return os.environ.get(DATA_ROOT_ENV, ".")


def data_path(*parts: str) -> str:
  """Path of a file under the data root."""
  return os.path.join(data_root(), *parts)


def missing_files_error(name: str, expected: list[str], fix: str) -> DatasetNotFoundError:
  """Builds the error for a data set whose files are absent, naming paths, env var and fix."""
  where = "\n  ".join(expected)
  root = os.environ.get(DATA_ROOT_ENV)
  root_note = (f"{DATA_ROOT_ENV}={root}" if root is not None
               else f"{DATA_ROOT_ENV} is not set, so the data root is the current directory "
                    f"{os.path.abspath('.')}")
  return DatasetNotFoundError(
      f"Data set '{name}' needs files that were not found. Expected:\n  {where}\n"
      f"({root_note}.)\nFix: {fix}")


def require_keys(path: str, found, required) -> None:
  """Raises DatasetFormatError unless every required key/dataset name is in `found`."""
  missing = [k for k in required if k not in found]
  if missing:
    raise DatasetFormatError(
        f"{path} lacks {missing} (has {sorted(found)}); it is not a file of the expected "
        f"schema. Re-download the official file.")
