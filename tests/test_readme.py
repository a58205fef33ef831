"""The README says only what is true: its Python snippets run, its commands parse, the gin
configs and make targets it names exist, and its import paths import."""

import pathlib
import re
import shlex

import pytest

from dynvae_keras import cli, gin_utils

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
MAKEFILE = (pathlib.Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")


def _blocks(language):
  return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _commands():
  """Every shell command of the README's bash blocks, continuation lines joined, comments dropped."""
  commands = []
  for block in _blocks("bash"):
    for line in block.replace("\\\n", " ").splitlines():
      line = line.split(" #", 1)[0].strip()
      if line and not line.startswith("#"):
        commands.append(line)
  return commands


@pytest.mark.parametrize("command", [c for c in _commands() if c.startswith("dynvae ")])
def test_dynvae_commands_parse_and_name_packaged_configs(command):
  args = cli.build_parser().parse_args(shlex.split(command)[1:])
  for config in getattr(args, "gin_config", []) + ([args.study] if getattr(args, "study", None) else []):
    gin_utils.resolve_config_path(config)  # raises GinConfigError for a config that does not exist


def test_make_targets_exist():
  targets = {c.split()[1] for c in _commands() if c.startswith("make ")}
  targets |= set(re.findall(r"`make ([a-z-]+)`", README))
  assert targets
  for target in targets:
    assert re.search(rf"^{re.escape(target)}:", MAKEFILE, flags=re.M), target


def test_inline_gin_configs_exist():
  for config in set(re.findall(r"`((?:model|metric|postprocess|study)/[a-z_0-9]+\.gin)`", README)):
    gin_utils.resolve_config_path(config)


def test_named_import_paths_import():
  for dotted in set(re.findall(r"`(dynvae_keras(?:\.[a-z_]+)+)(?:\(|`)", README)):
    module, _, name = dotted.rpartition(".")
    try:
      imported = __import__(dotted, fromlist=["_"])
    except ImportError:
      imported = getattr(__import__(module, fromlist=["_"]), name)
    assert imported is not None, dotted


@pytest.mark.parametrize("snippet", _blocks("python"))
def test_python_snippets_run(snippet, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # snippets write files (model.save) into the working directory
  exec(compile(snippet, "README.md", "exec"), {})  # pylint: disable=exec-used
