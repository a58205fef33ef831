"""Training batches sampled on the accelerator from images kept in its memory.

The host-side stream (`input_pipeline.ObservationBatches`) renders or gathers every batch in
numpy and copies it to the device each step. On a GPU, where a dlib conv-VAE step takes about a
millisecond, that host work and the host→device copy dominate. `DeviceBatches` instead copies
a pool of observations to the device once, as uint8, and draws each batch there: uniform
indices with replacement (as dlib trains) from a JAX PRNG keyed by (seed, step), a gather, and
a conversion to float in [0, 1]. Batch `i` is a pure function of (seed, i), so resumed runs
see the batches an uninterrupted run would have seen.

Backends: JAX (jitted sampler; the batches are `jax.Array`s that `model.fit` consumes without a
copy; under a `keras.distribution` set before the stream is made, the pool is replicated on the
distribution's devices and batches are drawn sharded along the batch axis). Other backends
raise: use `input_pipeline.training_input` there.
"""

from __future__ import annotations

import functools

import keras
import numpy as np


def observation_pool(data, num_observations: int, seed: int = 0) -> np.ndarray:
  """uint8 (N, H, W, C) observations sampled uniformly from `data` (all atoms when it has them).

  Ground-truth data with `num_atoms` (e.g. dSprites, 737,280 images) are taken whole when
  `num_observations >= num_atoms`; otherwise `num_observations` are sampled with dlib's factor
  sampling from `np.random.RandomState(seed)`.
  """
  num_observations = int(num_observations)
  if num_observations < 1:
    raise ValueError(f"num_observations must be >= 1; got {num_observations}.")
  random_state = np.random.RandomState(seed)
  num_atoms = getattr(data, "num_atoms", None)
  if num_atoms is not None and num_observations >= num_atoms:
    chunks = [data.observations_for_atoms(np.arange(start, min(start + 4096, num_atoms)))
              for start in range(0, num_atoms, 4096)]
    images = np.concatenate(chunks)
  else:
    images = np.concatenate([
        data.sample_observations(min(4096, num_observations - start), random_state)
        for start in range(0, num_observations, 4096)])
  return to_uint8(images)


def to_uint8(images) -> np.ndarray:
  """float images in [0, 1] → uint8 (exact for dlib's binary and 8-bit datasets)."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images
  return np.clip(np.rint(images.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _chunk_sampler(batch_size, dtype, chunk, batch_sharding=None):
  """jitted (pool, seed, first step) → `chunk` consecutive batches as separate arrays.

  One dispatch (and one scalar transfer) per chunk instead of per step: a host→device transfer
  per step would also wait for the queued training steps and serialise host and device.
  With `batch_sharding` (a `jax.sharding.Sharding`) the batches come out laid out that way.
  Cached so new streams reuse the compiled sampler.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  def sample(pool, seed, step):
    key = jax.random.fold_in(jax.random.PRNGKey(seed), step)
    indices = jax.random.randint(key, (batch_size,), 0, pool.shape[0])
    return (jnp.take(pool, indices, axis=0).astype(jnp.float32) / 255.0).astype(jnp.dtype(dtype))

  def sample_chunk(pool, seed, first):
    batches = jax.vmap(lambda step: sample(pool, seed, step))(first + jnp.arange(chunk))
    return tuple(batches[j] for j in range(chunk))

  out_shardings = None if batch_sharding is None else (batch_sharding,) * chunk
  return jax.jit(sample_chunk, out_shardings=out_shardings)


def _layouts(image_shape, batch_size):
  """(pool sharding, batch sharding) under the active `keras.distribution`, or (None, None).

  The pool is replicated on every device of the distribution's mesh and each batch is drawn
  already split along the batch axis as the distribution lays out data, so data-parallel steps
  read their shard without a transfer.
  """
  active = keras.distribution.distribution()
  if active is None:
    return None, None
  import jax  # pylint: disable=g-import-not-at-top
  batch_sharding = active.get_data_layout((batch_size,) + tuple(image_shape)).backend_layout
  return jax.sharding.NamedSharding(batch_sharding.mesh, jax.sharding.PartitionSpec()), batch_sharding


class DeviceBatches(keras.utils.PyDataset):
  """Batches drawn on the device from a device-resident uint8 pool (JAX backend).

  Args:
    images: uint8 (N, H, W, C) pool (see `observation_pool`; a uint8 `jax.Array` already on the
      device is used as is), or float images in [0, 1].
    batch_size: images per batch.
    num_batches: length of the stream.
    seed: stream seed; batch `i` uses `jax.random.fold_in(PRNGKey(seed), start_step + i)`.
    start_step: index of the first batch (to resume a run).
    chunk: batches drawn per device call when the stream is read in order (use
      `steps_per_execution` or a multiple of it); a batch read out of order is drawn alone. The
      stream's content does not depend on it.
    dtype: dtype of the batches ("float32", or "bfloat16" to halve the memory traffic under a
      `mixed_bfloat16` policy; both hold dlib's binary and 8-bit images exactly).

  Our models' `fit` never shuffles the stream (`step_indexed`); with another model pass
  `shuffle=False`, or every step is drawn by a device call of its own.

  Example:
    >>> pool = observation_pool(get_named_ground_truth_data("dsprites_full"), 65536)
    >>> model.compile(optimizer="adam", steps_per_execution=50)
    >>> model.fit(DeviceBatches(pool, 256, 10000, chunk=50), epochs=1)
  """

  step_indexed = True  # batch i is a function of (seed, i): our models' `fit` never shuffles it

  def __init__(self, images, batch_size, num_batches, seed=0, start_step=0, dtype="float32",
               chunk=100):
    super().__init__()
    if keras.backend.backend() != "jax":
      raise ValueError(
          f"DeviceBatches samples with JAX; the active Keras backend is "
          f"'{keras.backend.backend()}'. Set KERAS_BACKEND=jax, or use "
          "dynvae_keras.data.input_pipeline.training_input on this backend.")
    import jax  # pylint: disable=g-import-not-at-top
    if not (isinstance(images, jax.Array) and images.dtype == "uint8"):
      images = to_uint8(images)
    if images.ndim != 4:
      raise ValueError(f"images must be (N, H, W, C); got shape {images.shape}.")
    self.batch_size, self.seed = int(batch_size), int(seed)
    self.num_batches_total, self.start_step = int(num_batches), int(start_step)
    pool_sharding, self._batch_sharding = _layouts(images.shape[1:], self.batch_size)
    self.pool = jax.device_put(images, pool_sharding)
    self.dtype = str(dtype)
    self.chunk = max(1, min(int(chunk), self.num_batches_total))
    self._cache, self._next = {}, 0

  def __len__(self):
    return self.num_batches_total

  def __getitem__(self, index):
    if not 0 <= index < self.num_batches_total:
      raise IndexError(f"batch {index} out of range for a stream of {self.num_batches_total}.")
    if index not in self._cache:
      in_order = index in (self._next, 0)
      first = index - index % self.chunk if in_order else index
      size = min(self.chunk, self.num_batches_total - first) if in_order else 1
      sample = _chunk_sampler(self.batch_size, self.dtype, size, self._batch_sharding)
      batches = sample(self.pool, np.uint32(self.seed), np.int32(self.start_step + first))
      self._cache = dict(zip(range(first, first + size), batches))
    self._next = index + 1
    return (self._cache[index],)
