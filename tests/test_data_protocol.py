"""The GroundTruthData protocol: dlib's sampling order, shapes, dtypes, every named data set."""

import numpy as np
import pytest

from dynvae_keras import data

PROCEDURAL = ["dsprites_full", "dsprites_noshape", "color_dsprites", "noisy_dsprites",
              "scream_dsprites", "dummy_data", "rectangles"]


@pytest.mark.parametrize("name", PROCEDURAL)
def test_named_procedural_data_sets(name, data_root):
  ds = data.get_named_ground_truth_data(name)
  factors, images = ds.sample(7, np.random.RandomState(0))
  assert factors.shape == (7, ds.num_factors) and factors.dtype.kind == "i"
  assert len(ds.factors_num_values) == ds.num_factors
  assert np.all(factors < np.array(ds.factors_num_values)) and np.all(factors >= 0)
  assert images.shape == (7, *ds.observation_shape) and images.dtype == np.float32
  assert images.min() >= 0 and images.max() <= 1


def test_dsprites_full_factors_and_shapes(data_root):
  full = data.get_named_ground_truth_data("dsprites_full")
  assert full.factors_num_values == [3, 6, 40, 32, 32]
  assert full.observation_shape == [64, 64, 1]
  assert "procedural" in full.source
  assert data.get_named_ground_truth_data("dsprites_noshape").factors_num_values == [6, 40, 32, 32]
  assert data.get_named_ground_truth_data("color_dsprites").observation_shape == [64, 64, 3]


@pytest.mark.parametrize("name", ["dsprites_full", "dsprites_noshape", "color_dsprites"])
def test_sampling_order_matches_per_factor_randint_loop(name, data_root):
  ds = data.get_named_ground_truth_data(name)
  ours = ds.sample_factors(50, np.random.RandomState(3))
  rs = np.random.RandomState(3)
  expected = np.stack([rs.randint(n, size=50) for n in ds.factors_num_values], axis=1)
  np.testing.assert_array_equal(ours, expected)


def test_hidden_factors_drawn_after_latent_in_index_order(data_root):
  ds = data.get_named_ground_truth_data("dsprites_noshape")  # hidden: color (size 1), shape (3)
  factors = ds.sample_factors(40, np.random.RandomState(5))
  images = ds.sample_observations_from_factors(factors, np.random.RandomState(9))
  rs = np.random.RandomState(9)
  color, shape = rs.randint(1, size=40), rs.randint(3, size=40)
  full = np.concatenate([color[:, None], shape[:, None], factors], axis=1)
  from dynvae_keras.data import dsprites_render
  np.testing.assert_array_equal(images[..., 0], dsprites_render.render(full).astype(np.float32))


def test_color_dsprites_draws_colour_after_hidden_factors(data_root):
  ds = data.get_named_ground_truth_data("color_dsprites")
  factors = ds.sample_factors(5, np.random.RandomState(0))
  images = ds.sample_observations_from_factors(factors, np.random.RandomState(2))
  rs = np.random.RandomState(2)
  rs.randint(1, size=5)  # hidden colour factor
  colour = rs.uniform(0.5, 1, [5, 1, 1, 3])
  mask = images.max(axis=-1) > 0
  np.testing.assert_allclose(images[mask[..., None].repeat(3, -1)].reshape(-1, 3)[:1],
                             colour[0, 0].reshape(1, 3), rtol=1e-6)


def test_dummy_data_uses_one_randint_call():
  ds = data.DummyData()
  np.testing.assert_array_equal(ds.sample_factors(4, np.random.RandomState(0)),
                                np.random.RandomState(0).randint(5, size=(4, 10)))


def test_same_seed_same_samples(data_root):
  ds = data.get_named_ground_truth_data("scream_dsprites")
  a = ds.sample(6, np.random.RandomState(11))
  b = ds.sample(6, np.random.RandomState(11))
  np.testing.assert_array_equal(a[0], b[0])
  np.testing.assert_array_equal(a[1], b[1])


def test_unknown_name_lists_known_names():
  with pytest.raises(ValueError, match="dsprites_full"):
    data.get_named_ground_truth_data("dsprite_full")


def test_gin_name_dataset(data_root):
  import gin
  gin.clear_config()
  gin.parse_config("dataset.name = 'dsprites_noshape'")
  try:
    assert data.get_named_ground_truth_data().num_factors == 4
  finally:
    gin.clear_config()


def test_array_ground_truth_data():
  rs = np.random.RandomState(0)
  grid = np.array([(a, b) for a in (10, 20, 30) for b in (0.5, 1.5)])
  order = rs.permutation(len(grid))
  images = rs.randint(0, 256, size=(6, 8, 8), dtype=np.uint8)[order]
  ds = data.ArrayGroundTruthData(images, grid[order], factor_names=["a", "b"])
  assert ds.factors_num_values == [3, 2] and ds.observation_shape == [8, 8, 1]
  factors = np.array([[2, 1], [0, 0]])
  got = ds.sample_observations_from_factors(factors, rs)
  for f, image in zip(factors, got):
    row = np.flatnonzero((grid[order] == [[(10, 20, 30)[f[0]], (0.5, 1.5)[f[1]]]]).all(1))[0]
    np.testing.assert_allclose(image[..., 0], images[row] / 255.0)


@pytest.mark.parametrize("images,labels,match", [
    (np.zeros((4, 8, 8)), np.array([[0, 0], [0, 1], [1, 0], [0, 0]]), "exactly one image"),
    (np.zeros((3, 8, 8)), np.zeros((4, 1)), "factor_classes must be"),
    (np.full((2, 8, 8), 2.0), np.array([[0], [1]]), r"in \[0, 1\]"),
    (np.zeros((2, 8, 8)), np.zeros((2, 0)), "0 factors"),
    (np.zeros((2, 8)), np.array([[0], [1]]), "images must be"),
])
def test_array_ground_truth_data_errors(images, labels, match):
  with pytest.raises(ValueError, match=match):
    data.ArrayGroundTruthData(images, labels)


def test_rectangles_area_is_width_times_height_within_each_class():
  ds = data.Rectangles(size=32, num_values=4)
  factors = np.array([[0, 0], [3, 0], [0, 3], [3, 3]] * 50)
  images = ds.sample_observations_from_factors(factors, np.random.RandomState(0))[..., 0]
  # The image is the outer product of a row and a column coverage profile (anti-aliased edges).
  np.testing.assert_allclose(images, images.max(axis=2, keepdims=True) * images.max(axis=1, keepdims=True),
                             atol=1e-6)
  # Half-sides as fractions of the side: the column (row) profile sums to the width (height).
  half = np.stack([images.max(axis=1).sum(axis=1), images.max(axis=2).sum(axis=1)], axis=1) / (2 * 32)
  for k, (low, high) in enumerate(data.rectangles.HALF_SIDE_RANGES):
    width = (high - low) / 4
    smallest, largest = half[factors[:, k] == 0, k], half[factors[:, k] == 3, k]
    assert smallest.min() >= low - 1e-6 and smallest.max() <= low + width + 1e-6
    assert largest.min() >= high - width - 1e-6 and largest.max() <= high + 1e-6
    assert np.ptp(smallest) > width / 2  # continuous within a class, not one image per class
  with pytest.raises(ValueError, match="num_values"):
    data.Rectangles(num_values=1)
  with pytest.raises(ValueError, match="half_side_ranges"):
    data.Rectangles(half_side_ranges=((0.1, 0.6), (0.2, 0.3)))
