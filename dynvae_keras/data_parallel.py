"""Data-parallel training on every local device: one context for the JAX and TensorFlow backends.

`data_parallel_scope(batch_size)` is entered around building (or loading), compiling and fitting
a model. JAX: a `keras.distribution.DataParallel` over `jax.devices()` (one SPMD program over the
global batch; the fused `steps_per_execution` loop and `DeviceBatches` follow its layout).
TensorFlow: a `tf.distribute.MirroredStrategy` over the local GPUs (or the CPU). Either way the
batch size is the global batch, split evenly across devices, and a controller sees the
global-batch KL (see `models.train_step.cross_replica_mean`), so β is the same on every device.
"""

from __future__ import annotations

import contextlib
import logging

import keras

logger = logging.getLogger(__name__)


class DataParallelError(ValueError):
  """Data-parallel training cannot run as configured."""


@contextlib.contextmanager
def data_parallel_scope(batch_size):
  """Context in which models are built, compiled and trained data-parallel (see module doc)."""
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
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    strategy = tf.distribute.MirroredStrategy()
    _check_divisible(batch_size, strategy.num_replicas_in_sync, "replicas")
    logger.info("Data-parallel over %d replicas (tf.distribute.MirroredStrategy).",
                strategy.num_replicas_in_sync)
    with strategy.scope():
      yield strategy.num_replicas_in_sync
  else:
    raise DataParallelError(
        f"Keras has no data-parallel fit on the {backend} backend; set KERAS_BACKEND=jax or "
        "tensorflow, or train with model.data_parallel = False.")


def _check_divisible(batch_size, devices, what):
  if batch_size % devices:
    raise DataParallelError(
        f"model.batch_size ({batch_size}) must split evenly over the {devices} {what}; use a "
        f"multiple of {devices}, e.g. --gin_bindings 'model.batch_size = "
        f"{max(devices, batch_size // devices * devices)}'.")
