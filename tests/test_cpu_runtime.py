"""The CPU path `dynvae train` chooses: TensorFlow's oneDNN kernels, and the one-line summary of
the settings it logs."""

import platform

import pytest

from conftest import run_python

X86 = platform.machine().lower() in ("x86_64", "amd64")

ONEDNN_QUERY = """
import os, dynvae_keras, tensorflow as tf
from dynvae_keras import cpu_runtime
print("RESULT", cpu_runtime.onednn_enabled(), os.environ.get("TF_ENABLE_ONEDNN_OPTS"))
"""


@pytest.mark.skipif(not X86, reason="TensorFlow's oneDNN switch is checked on x86 CPUs")
def test_importing_dynvae_keras_turns_on_onednn_unless_the_user_chose():
  # The child inherits this process's environment; each case sets or removes the variable first.
  assert run_python(ONEDNN_QUERY, "tensorflow", env={"TF_ENABLE_ONEDNN_OPTS": "0"}).split("RESULT")[1].split() \
      == ["False", "0"]
  code = "import os; os.environ.pop('TF_ENABLE_ONEDNN_OPTS', None)\n" + ONEDNN_QUERY
  assert run_python(code, "tensorflow").split("RESULT")[1].split() == ["True", "1"]
  # TensorFlow imported first: its own default decides (oneDNN on CPUs with AVX512-VNNI,
  # AVX512-BF16 or AMX, its own kernels elsewhere), and the summary says which ran.
  late = ("import os; os.environ.pop('TF_ENABLE_ONEDNN_OPTS', None)\nimport tensorflow, keras\n"
          "from dynvae_keras import cpu_runtime\n"
          "print('RESULT', cpu_runtime.onednn_enabled(), cpu_runtime.summary())")
  default, summary = run_python(late, "tensorflow").split("RESULT", 1)[1].split(None, 1)
  if default == "True":
    assert "CPU kernels oneDNN" in summary and "too late" not in summary
  else:
    assert "CPU kernels TensorFlow's own" in summary and "came too late" in summary


def test_summary_says_when_the_onednn_request_came_too_late(monkeypatch):
  from dynvae_keras import cpu_runtime
  monkeypatch.setattr(cpu_runtime, "onednn_enabled", lambda: False)
  monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
  assert "CPU kernels TensorFlow's own (TensorFlow was imported before dynvae_keras" in cpu_runtime.summary()
  monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # the user's choice: nothing came too late
  assert "too late" not in cpu_runtime.summary()
  monkeypatch.setattr(cpu_runtime, "onednn_enabled", lambda: True)
  assert "CPU kernels oneDNN," in cpu_runtime.summary()


def test_summary_names_backend_precision_kernels_and_threads():
  from dynvae_keras import cpu_runtime
  line = cpu_runtime.summary("mixed_bfloat16")
  assert line.startswith("backend tensorflow, precision mixed_bfloat16, CPU kernels ")
  assert "threads intra-op" in line and "inter-op" in line


def test_summary_reports_the_thread_pools_tensorflow_sizes_from_its_environment(monkeypatch):
  # `dynvae study` workers set TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS; TensorFlow then
  # runs that many threads (1 worker thread: 0.99 CPU-seconds per second on a conv loop, against
  # 1.80 unset, 2 cores) while tf.config.threading still reports 0.
  import os
  from dynvae_keras import cpu_runtime
  monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
  monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "1")
  assert "threads intra-op 1 inter-op 1 (TF_NUM_INTRAOP_THREADS; TF_NUM_INTEROP_THREADS)" \
      in cpu_runtime.summary()
  monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
  monkeypatch.delenv("TF_NUM_INTEROP_THREADS")
  assert (f"threads intra-op {os.cpu_count()} inter-op {os.cpu_count()} "
          "(TensorFlow's default: one per core)") in cpu_runtime.summary()
  assert cpu_runtime.tensorflow_threads(3, "TF_NUM_INTRAOP_THREADS") == (3, None)


def test_a_sitting_names_the_backend_and_its_devices_on_jax():
  code = ("from dynvae_keras import cpu_runtime\n"
          "s = cpu_runtime.sitting(7)\n"
          "print('RESULT', s['from_step'], s['accelerator'], '|', s['software'], '|', s['settings'])")
  out = run_python(code, "jax").split("RESULT", 1)[1].strip()
  head, software, settings = out.split(" | ")
  assert head == "7 none"
  assert software.startswith("dynvae-keras ") and ", jax " in software and ", Python 3." in software
  assert settings == "backend jax, precision float32"
