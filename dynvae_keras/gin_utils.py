"""Parsing gin configs for the command-line tools, with one-line errors.

Config files are looked up as given, then under the packaged `dynvae_keras/gin_configs/` (so
`include "model/shared.gin"` and `--gin_config model/beta_vae.gin` work from anywhere), and
under the directories in `$DYNVAE_GIN_PATH` (colon separated).
"""

from __future__ import annotations

import logging
import os
import pathlib

import gin

from dynvae_keras.errors import DynvaeError

GIN_CONFIG_DIR = pathlib.Path(__file__).resolve().parent / "gin_configs"


class GinConfigError(DynvaeError, ValueError):
  """A gin config or binding could not be parsed or applied."""


class _GinSearchNoise(logging.Filter):
  """Drops gin's log lines about the search-path locations it tried before finding a file."""

  def filter(self, record):
    message = record.getMessage()
    return not (message.startswith("Path not found:") or message.startswith("system_path_file_exists"))


def register_configurables():
  """Imports the library modules that define gin configurables (data sets, models, metrics,
  postprocessing). The pipeline's own configurables (`model.*` of `dynvae_keras.pipeline.train`,
  `study.*` of `dynvae_keras.pipeline.study`) are registered by importing those modules, which
  every caller that parses their configs does first; this module knows no pipeline module."""
  # pylint: disable=g-import-not-at-top,unused-import
  import dynvae_keras.data.named_data
  import dynvae_keras.evaluation.evaluate
  import dynvae_keras.evaluation.metrics
  import dynvae_keras.evaluation.postprocess
  import dynvae_keras.models.factories


def packaged_configs(kind=None):
  """Relative names of the packaged gin configs ('model/beta_vae.gin', ...), sorted; `kind`
  ('model', 'metric', 'postprocess', 'study') keeps one directory."""
  pattern = f"{kind}/*.gin" if kind else "*/*.gin"
  return sorted(str(p.relative_to(GIN_CONFIG_DIR)) for p in GIN_CONFIG_DIR.glob(pattern))


def search_paths():
  paths = [str(GIN_CONFIG_DIR)]
  paths += [p for p in os.environ.get("DYNVAE_GIN_PATH", "").split(os.pathsep) if p]
  return paths


def resolve_config_path(path):
  """`path` if it exists, else the first match under the search paths; error if none."""
  if os.path.exists(path):
    return path
  for root in search_paths():
    candidate = os.path.join(root, path)
    if os.path.exists(candidate):
      return candidate
  raise GinConfigError(f"gin config '{path}' not found (also looked in {', '.join(search_paths())}).")


def parse(config_files=(), bindings=()):
  """Clears gin and parses `config_files` then `bindings`; raises GinConfigError with a one-line message.

  The config is left unlocked (gin's `finalize_config=False`: this library registers no finalize
  hooks), so a module with configurables imported after a parse, such as a pipeline module
  first imported by a later command in the same process, can still register them."""
  register_configurables()
  for handler in logging.getLogger().handlers:
    if not any(isinstance(f, _GinSearchNoise) for f in handler.filters):
      handler.addFilter(_GinSearchNoise())
  gin.clear_config()
  for root in search_paths():
    gin.add_config_file_search_path(root)
  files = [resolve_config_path(p) for p in config_files or ()]
  try:
    gin.parse_config_files_and_bindings(files, list(bindings or ()), finalize_config=False)
  except (ValueError, KeyError, TypeError, SyntaxError, IOError) as e:
    message = str(e).strip().splitlines()
    raise GinConfigError(f"Invalid gin configuration: {message[0] if message else type(e).__name__}"
                         + (f" ({message[-1].strip()})" if len(message) > 1 else "")) from e
