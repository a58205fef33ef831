"""Procedural dSprites against real dSprites frames (../shared/dataset_fixtures)."""

import numpy as np
import pytest

from conftest import shared_file
from dynvae_keras.data import dsprites_render as render


@pytest.fixture(scope="module")
def real_frames():
  data = np.load(shared_file("dataset_fixtures", "dsprites_gif_frames_labels.npz"))
  # label columns: shape, scale, orientation, posX, posY
  return data["imgs"].astype(bool), data["latents_classes_5"].astype(np.int64)


def _per_shape(real_frames):
  images, labels = real_frames
  ours = render.render(labels).astype(bool)
  mismatch = (ours != images).reshape(len(images), -1).sum(1)
  iou = (ours & images).reshape(len(images), -1).sum(1) / (ours | images).reshape(len(images), -1).sum(1)
  return labels[:, 0], mismatch, iou


def test_square_and_ellipse_mismatch_within_tolerance(real_frames):
  shape, mismatch, _ = _per_shape(real_frames)
  assert mismatch[shape == 0].max() <= 4
  assert mismatch[shape == 1].max() <= 6


def test_heart_mean_iou(real_frames):
  shape, _, iou = _per_shape(real_frames)
  assert iou[shape == 2].mean() >= 0.95


def test_square_pixel_counts_exact():
  factors = np.array([[0, 0, s, 0, 0, 0] for s in range(6)])
  counts = render.render(factors).reshape(6, -1).sum(1)
  assert counts.tolist() == [100, 144, 196, 256, 324, 400]


def test_scale_counts_of_real_frames_for_square(real_frames):
  images, labels = real_frames
  sweep = (labels[:, 0] == 0) & (labels[:, 2] == 0) & (labels[:, 3] == 0) & (labels[:, 4] == 0)
  ours = render.render(labels[sweep]).reshape(sweep.sum(), -1).sum(1)
  assert np.array_equal(ours, images[sweep].reshape(sweep.sum(), -1).sum(1))


def test_orientation_0_and_39_identical():
  rs = np.random.RandomState(0)
  factors = np.stack([np.zeros(30, int), rs.randint(3, size=30), rs.randint(6, size=30),
                      np.zeros(30, int), rs.randint(32, size=30), rs.randint(32, size=30)], 1)
  last = factors.copy()
  last[:, 3] = 39
  assert np.array_equal(render.render(factors), render.render(last))


def test_position_directions():
  # posX moves right (columns), posY moves down (rows).
  base = np.array([[0, 0, 5, 0, 0, 0], [0, 0, 5, 0, 31, 0], [0, 0, 5, 0, 0, 31]])
  images = render.render(base).astype(float)
  rows, cols = np.mgrid[0:64, 0:64]
  centroid = lambda im: ((im * rows).sum() / im.sum(), (im * cols).sum() / im.sum())
  (r0, c0), (r1, c1), (r2, c2) = map(centroid, images)
  assert c1 - c0 == pytest.approx(32, abs=0.5) and r1 == pytest.approx(r0)
  assert r2 - r0 == pytest.approx(32, abs=0.5) and c2 == pytest.approx(c0)


def test_global_mean_pixel_close_to_real_set():
  # Real set: 0.042494 over all 737,280 images; a 20k uniform sample has sd ~ 3e-4 here.
  rs = np.random.RandomState(1)
  factors = np.stack([rs.randint(n, size=20000) for n in render.FACTOR_SIZES], 1)
  assert render.render(factors).mean() == pytest.approx(0.042494, abs=0.0015)


def test_bad_factors_rejected():
  with pytest.raises(ValueError, match="out of range"):
    render.render(np.array([[0, 3, 0, 0, 0, 0]]))
  with pytest.raises(ValueError, match="shape"):
    render.render(np.zeros((2, 4), int))
