"""Training input streams: reproducible per (seed, step), same on tf.data and PyDataset."""

import warnings

import numpy as np

from conftest import run_python
from dynvae_keras import data


def test_streams_agree_and_resume(data_root):
  ds = data.get_named_ground_truth_data("dsprites_full")
  py = data.ObservationBatches(ds, 8, num_batches=5, seed=3)
  tf_batches = [b.numpy() for b in data.make_tf_dataset(ds, 8, num_batches=5, seed=3)]
  assert len(py) == 5 and len(tf_batches) == 5
  for i in range(5):
    np.testing.assert_array_equal(py[i], tf_batches[i])
    assert py[i].shape == (8, 64, 64, 1) and py[i].dtype == np.float32
  resumed = data.ObservationBatches(ds, 8, num_batches=2, seed=3, start_step=3)
  np.testing.assert_array_equal(resumed[0], py[3])
  np.testing.assert_array_equal(resumed[1], py[4])
  assert not np.array_equal(py[0], py[1])
  other_seed = data.ObservationBatches(ds, 8, num_batches=1, seed=4)
  assert not np.array_equal(other_seed[0], py[0])


def test_pydataset_under_jax_backend():
  out = run_python(
      "import numpy as np\n"
      "from dynvae_keras import data\n"
      "import keras\n"
      "ds = data.get_named_ground_truth_data('dsprites_full')\n"
      "s = data.training_input(ds, 4, 3, seed=1)\n"
      "print(keras.backend.backend(), type(s).__name__, float(s[2].sum()))\n", "jax")
  ds = data.get_named_ground_truth_data("dsprites_full")
  expected = float(data.sample_batch(ds, 4, 1, 2).sum())
  backend, kind, total = out.split()[-3:]
  assert backend == "jax" and kind == "ObservationBatches" and float(total) == expected


class _RecordedBatches(data.ObservationBatches):
  """An ObservationBatches that records the order its batches are read in."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.read = []

  def __getitem__(self, index):
    self.read.append(index)
    return super().__getitem__(index)


def test_our_fit_reads_a_step_indexed_stream_in_order():
  """Keras' default `shuffle=True` would permute the steps of a (seed, step)-indexed stream (and
  break resumption); our models' `fit` reads it in order, even when shuffle=True is passed, and
  does not ask Keras to shuffle our tf.data stream (which Keras would refuse with a warning)."""
  from helpers import make_model  # pylint: disable=g-import-not-at-top
  ds = data.get_named_ground_truth_data("dsprites_full")
  model = make_model("BetaVAE", encoder_fn="mlp_encoder", decoder_fn="mlp_decoder")
  model.compile(optimizer="adam")
  for kwargs in ({}, {"shuffle": True}):
    stream = _RecordedBatches(ds, 4, num_batches=6, seed=0)
    model.fit(stream, epochs=2, verbose=0, **kwargs)
    # (on TensorFlow, Keras first reads two batches to infer the tf.data signature)
    assert stream.read[-12:] == list(range(6)) * 2, (kwargs, stream.read)
  with warnings.catch_warnings(record=True) as caught:  # Keras warns if asked to shuffle tf.data
    warnings.simplefilter("always")
    model.fit(data.training_input(ds, 4, 2, seed=0), epochs=1, verbose=0)
  assert not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]
