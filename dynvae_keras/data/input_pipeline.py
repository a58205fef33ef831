"""Training input: reproducible streams of uniformly sampled observation batches.

Batch `i` of a stream with seed `s` is `data.sample_observations(batch_size,
np.random.RandomState([s, i]))`: sampling with replacement, as dlib trains, and a pure
function of (seed, step). A run resumed at step k therefore sees exactly the batches the
uninterrupted run would have seen.
"""

from __future__ import annotations

import keras
import numpy as np


def sample_batch(data, batch_size: int, seed: int, step: int) -> np.ndarray:
  """Batch number `step` of the stream with `seed`: float32 (batch_size, H, W, C) in [0, 1]."""
  random_state = np.random.RandomState([int(seed) % (2 ** 32), int(step)])
  return np.asarray(data.sample_observations(batch_size, random_state), dtype=np.float32)


class ObservationBatches(keras.utils.PyDataset):
  """Backend-neutral batch stream for `model.fit` (JAX, torch and TensorFlow).

  Args:
    data: a GroundTruthData.
    batch_size: images per batch.
    num_batches: length of the stream.
    seed: stream seed.
    start_step: index of the first batch (to resume a run).
    **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` for `PyDataset`.
  """

  step_indexed = True  # batch i is a function of (seed, i): our models' `fit` never shuffles it

  def __init__(self, data, batch_size, num_batches, seed=0, start_step=0, **kwargs):
    super().__init__(**kwargs)
    self.data, self.batch_size, self.seed = data, int(batch_size), int(seed)
    self.num_batches_total, self.start_step = int(num_batches), int(start_step)

  def __len__(self):
    return self.num_batches_total

  def __getitem__(self, index):
    if not 0 <= index < self.num_batches_total:
      raise IndexError(f"batch {index} out of range for a stream of {self.num_batches_total}.")
    return sample_batch(self.data, self.batch_size, self.seed, self.start_step + index)


def make_tf_dataset(data, batch_size, num_batches, seed=0, start_step=0):
  """The same stream as :class:`ObservationBatches` as a prefetched, ordered `tf.data.Dataset`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  shape = [int(batch_size)] + list(data.observation_shape)

  def load(step):
    batch = tf.numpy_function(
        lambda s: sample_batch(data, batch_size, seed, int(s)), [step], tf.float32, stateful=False)
    batch.set_shape(shape)
    return batch

  steps = tf.data.Dataset.range(int(start_step), int(start_step) + int(num_batches))
  dataset = steps.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
      tf.data.AUTOTUNE)
  dataset.step_indexed = True  # in order by construction; our models' `fit` passes shuffle=False
  return dataset


def training_input(data, batch_size, num_batches, seed=0, start_step=0):
  """The stream for the active Keras backend: tf.data on TensorFlow, a PyDataset otherwise."""
  if keras.backend.backend() == "tensorflow":
    return make_tf_dataset(data, batch_size, num_batches, seed, start_step)
  return ObservationBatches(data, batch_size, num_batches, seed, start_step)
