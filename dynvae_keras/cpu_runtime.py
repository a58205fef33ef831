"""The CPU kernels and thread pools training runs with, the one-line summary `dynvae train` logs,
and the description of the machine and software of each training sitting (`sitting`).

TensorFlow's x86 wheels turn on their oneDNN kernels by default only on CPUs with AVX512-VNNI,
AVX512-BF16 or AMX. On other x86 CPUs (AVX2 servers and laptops) its own kernels run, and dlib's
conv VAE trains at 1/1.27 of the steps/s it reaches with oneDNN (1.25–1.55× over four runs on a
2-core AMD EPYC with AVX2, `python bench/cpu_throughput.py`, docs/performance.md). Importing `dynvae_keras` therefore sets
``TF_ENABLE_ONEDNN_OPTS=1`` unless the environment already sets it (``TF_ENABLE_ONEDNN_OPTS=0``
keeps TensorFlow's own kernels). The variable is read when TensorFlow loads, so it has no effect
in a process that imported TensorFlow first; `summary()` says which kernels actually run.

oneDNN computes convolutions in a different summation order: results differ from TensorFlow's
own kernels by float rounding, and are reproducible run to run (`model.deterministic`).
"""

from __future__ import annotations

import datetime
import os
import platform
import sys

#: TensorFlow's switch for its oneDNN kernels, read once when TensorFlow is imported.
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
#: TensorFlow's thread-pool sizes when `tf.config.threading` leaves them at 0, read at start-up.
INTRA_OP_VARIABLE = "TF_NUM_INTRAOP_THREADS"
INTER_OP_VARIABLE = "TF_NUM_INTEROP_THREADS"


def tensorflow_threads(configured, variable):
  """(threads, source) of one TensorFlow thread pool.

  TensorFlow sizes a pool from `tf.config.threading` when that is set (non-zero), else from its
  environment variable (`TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS`, as `dynvae study`
  workers set them), else one thread per core. `tf.config.threading` reports 0 in the last two
  cases. `source` is None for an explicit `tf.config.threading` setting, the variable's name when
  it decided, or "TensorFlow's default: one per core".
  """
  if configured:
    return configured, None
  value = os.environ.get(variable, "").strip()
  if value.isdigit() and int(value) > 0:
    return int(value), variable
  return os.cpu_count(), "TensorFlow's default: one per core"


def prefer_onednn():
  """Asks TensorFlow for its oneDNN kernels unless the environment decided already.

  Only effective before TensorFlow is imported; `dynvae_keras/__init__.py` calls it."""
  os.environ.setdefault(ONEDNN_VARIABLE, "1")


def onednn_enabled():
  """True/False: whether the loaded TensorFlow runs its oneDNN kernels; None if unknown."""
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  try:
    return bool(_pywrap_util_port.IsMklEnabled())
  except AttributeError:  # a TensorFlow without the query
    return None


def summary(dtype_policy=None) -> str:
  """One line: backend, precision policy, CPU kernels and thread pools of this process.

  Args:
    dtype_policy: the model's Keras dtype policy name (None: the global policy).
  """
  import keras  # pylint: disable=g-import-not-at-top
  backend = keras.backend.backend()
  policy = dtype_policy or keras.mixed_precision.dtype_policy().name
  parts = [f"backend {backend}", f"precision {policy}"]
  if backend == "tensorflow":
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    enabled = onednn_enabled()
    kernels = {True: "oneDNN", False: "TensorFlow's own", None: "unknown"}[enabled]
    if enabled is False and os.environ.get(ONEDNN_VARIABLE) == "1":
      kernels += " (TensorFlow was imported before dynvae_keras, so TF_ENABLE_ONEDNN_OPTS=1 came too late)"
    intra, intra_source = tensorflow_threads(
        tf.config.threading.get_intra_op_parallelism_threads(), INTRA_OP_VARIABLE)
    inter, inter_source = tensorflow_threads(
        tf.config.threading.get_inter_op_parallelism_threads(), INTER_OP_VARIABLE)
    sources = [s for s in dict.fromkeys((intra_source, inter_source)) if s]
    parts += [f"CPU kernels {kernels}", f"threads intra-op {intra} inter-op {inter}"
              + (f" ({'; '.join(sources)})" if sources else "")]
  elif backend == "torch":
    import torch  # pylint: disable=g-import-not-at-top
    parts.append(f"threads {torch.get_num_threads()}")
  return ", ".join(parts)


def processor() -> str:
  """The CPU's model name, its widest vector instruction set (which decides oneDNN's kernels) and
  its number of usable cores, e.g. 'AMD EPYC, AVX-512 (VNNI, BF16), 2 cores'; from /proc/cpuinfo
  where there is one."""
  name, flags = "", set()
  try:
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not name:
          name = value.strip()
        elif key.strip() == "flags" and not flags:
          flags = set(value.split())
  except OSError:
    pass
  name = name or platform.processor() or platform.machine() or "unknown CPU"
  extras = [label for flag, label in (("avx512_vnni", "VNNI"), ("avx512_bf16", "BF16"),
                                      ("amx_tile", "AMX")) if flag in flags]
  isa = ("AVX-512" + (f" ({', '.join(extras)})" if extras else "") if "avx512f" in flags
         else "AVX2" if "avx2" in flags else "")
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  return ", ".join(part for part in (name, isa, f"{cores} cores") if part)


def accelerator() -> str:
  """The first accelerator the Keras backend computes on ('device kind' / GPU name), or 'none'."""
  import keras  # pylint: disable=g-import-not-at-top
  backend = keras.backend.backend()
  try:
    if backend == "jax":
      import jax  # pylint: disable=g-import-not-at-top
      device = jax.devices()[0]
      return "none" if device.platform == "cpu" else f"{device.platform} {device.device_kind}"
    if backend == "tensorflow":
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      gpus = tf.config.list_physical_devices("GPU")
      if gpus:
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
      return "none"
    if backend == "torch":
      import torch  # pylint: disable=g-import-not-at-top
      return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
  except Exception as e:  # pylint: disable=broad-except  # a description must never stop training
    return f"unknown ({type(e).__name__}: {e})"
  return "none"


def software() -> str:
  """Versions of this library, Keras, the backend and Python, e.g.
  'dynvae-keras 0.1.0, Keras 3.15.1, tensorflow 2.21.0, Python 3.11.9'."""
  import keras  # pylint: disable=g-import-not-at-top

  from dynvae_keras import __version__  # pylint: disable=g-import-not-at-top
  backend = keras.backend.backend()  # also the name of the backend's module
  version = getattr(sys.modules.get(backend), "__version__", "")
  return (f"dynvae-keras {__version__}, Keras {keras.__version__}, {backend} {version}".rstrip()
          + f", Python {platform.python_version()}")


def sitting(step, dtype_policy=None) -> dict:
  """What one training sitting (a start or a resume at driver step `step`) runs on and with:
  {"from_step", "started" (UTC, ISO 8601), "cpu", "accelerator", "software", "settings"
  (`summary()`)}. Floats differ across CPUs (oneDNN picks its kernels per instruction set) and
  across versions, so runs compared across machines say which ran where."""
  return {"from_step": int(step),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "cpu": processor(), "accelerator": accelerator(), "software": software(),
          "settings": summary(dtype_policy)}
