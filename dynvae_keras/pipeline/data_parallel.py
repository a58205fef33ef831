"""Data-parallel training on every local device: one context for the JAX and TensorFlow backends.

`data_parallel_scope(batch_size)` is entered around building (or loading), compiling and fitting
a model. JAX: a `keras.distribution.DataParallel` over `jax.devices()` (one SPMD program over the
global batch; the fused `steps_per_execution` loop and `DeviceBatches` follow its layout).
TensorFlow: a `tf.distribute.MirroredStrategy` over the local GPUs (or the CPU). Either way the
batch size is the global batch, split evenly across devices, and a controller sees the
global-batch KL (see `models.trainer.cross_replica_mean`), so β is the same on every device.
"""

from __future__ import annotations

import contextlib
import functools
import logging

import keras

from dynvae_keras.errors import DynvaeError

logger = logging.getLogger(__name__)


class DataParallelError(DynvaeError, ValueError):
  """Data-parallel training cannot run as configured."""


@contextlib.contextmanager
def data_parallel_scope(batch_size, steps_per_execution=1):
  """Context in which models are built, compiled and trained data-parallel (see module doc).

  Yields the number of devices. TensorFlow needs `steps_per_execution = 1`: Keras 3's fused
  multi-step function fails under `MirroredStrategy` ("You must feed a value for placeholder
  tensor ..."; keras-team/keras#19246, reproduced with a plain Keras model on Keras 3.15 /
  TF 2.21), so that combination is refused up front.
  """
  backend = keras.backend.backend()
  if backend == "jax":
    import jax  # pylint: disable=g-import-not-at-top
    devices = jax.devices()
    _check_divisible(batch_size, len(devices), f"{jax.default_backend()} devices")
    logger.info("Data-parallel over %d %s devices (keras.distribution.DataParallel).",
                len(devices), jax.default_backend())
    with keras.distribution.DataParallel(devices=devices).scope():
      yield len(devices)
  elif backend == "tensorflow":
    if steps_per_execution != 1:
      raise DataParallelError(
          f"model.steps_per_execution = {steps_per_execution} does not work under TensorFlow's "
          "MirroredStrategy in Keras 3 (keras-team/keras#19246); use model.steps_per_execution = 1 "
          "with model.data_parallel on the TensorFlow backend, or KERAS_BACKEND=jax.")
    strategy = _mirrored_strategy()
    _check_divisible(batch_size, strategy.num_replicas_in_sync, "replicas")
    logger.info("Data-parallel over %d replicas (tf.distribute.MirroredStrategy).",
                strategy.num_replicas_in_sync)
    with strategy.scope():
      yield strategy.num_replicas_in_sync
  else:
    raise DataParallelError(
        f"Keras has no data-parallel fit on the {backend} backend; set KERAS_BACKEND=jax or "
        "tensorflow, or train with model.data_parallel = False.")


@functools.lru_cache(maxsize=None)
def _mirrored_strategy():
  """One `MirroredStrategy` per process: models trained one after another in the same process
  (a study) must share it; a second strategy's collectives collide with the first's."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.distribute.MirroredStrategy()


def _check_divisible(batch_size, devices, what):
  if batch_size % devices:
    raise DataParallelError(
        f"model.batch_size ({batch_size}) must split evenly over the {devices} {what}; use a "
        f"multiple of {devices}, e.g. --gin_bindings 'model.batch_size = "
        f"{max(devices, batch_size // devices * devices)}'.")
