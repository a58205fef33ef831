"""Procedural dSprites: renders the 737,280 dSprites images from their factor indices.

The geometry was measured against real dSprites frames (see DESIGN.md §4):

* binary 64×64 images; a pixel (row i, column j) is on iff its centre (j+0.5, i+0.5) lies
  inside the shape (no anti-aliasing);
* the sprite centre is at (64·(0.25 + 0.5·posX), 64·(0.25 + 0.5·posY)) with posX, posY in
  linspace(0, 1, 32); posX moves right (columns), posY moves down (rows);
* scales are linspace(0.5, 1, 6); sizes at scale 1, as fractions of 64 px: square side 0.30,
  ellipse semi-axes 0.200 (x) and 0.1128 (y), heart = two lobe disks of radius 5.125 px at
  (±4.6875, −4.0) px plus each disk's tangent cone to the tip at (0, +8.75) px;
* orientations are linspace(0, 2π, 40) (so indices 0 and 39 give identical images) and rotate
  counter-clockwise as displayed: local (lx, ly) = (c·dx − s·dy, s·dx + c·dy) / (64·scale).

Everything is vectorised over a batch; :func:`render` is the one entry point.
"""

from __future__ import annotations

import numpy as np

#: Version of the rendered geometry; raised whenever any rendered pixel changes, and recorded
#: as the data source of every result trained or scored on procedural dSprites.
RENDERER_VERSION = 1

#: Factor sizes in the official order (color, shape, scale, orientation, posX, posY).
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
SHAPE_NAMES = ("square", "ellipse", "heart")
IMAGE_SIZE = 64

SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2.0 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)

# Shape geometry in units of the image size at scale 1.
_SQUARE_HALF_SIDE = 0.30 / 2.0
_ELLIPSE_SEMI_X = 0.200
_ELLIPSE_SEMI_Y = 0.1128
_HEART_LOBE_RADIUS = 5.125 / IMAGE_SIZE
_HEART_LOBE_CENTRES = ((-4.6875 / IMAGE_SIZE, -4.0 / IMAGE_SIZE),
                       (4.6875 / IMAGE_SIZE, -4.0 / IMAGE_SIZE))
_HEART_TIP = (0.0, 8.75 / IMAGE_SIZE)

_PIXEL_CENTRES = np.arange(IMAGE_SIZE, dtype=np.float64) + 0.5


def latent_values(factors: np.ndarray) -> np.ndarray:
  """Maps class indices (N, 6) to the official `latents_values` (N, 6) floats.

  Shape values are 1, 2, 3 (square, ellipse, heart), as in the official file.
  """
  factors = np.asarray(factors, dtype=np.int64)
  return np.stack([
      np.ones(len(factors)),
      factors[:, 1] + 1.0,
      SCALES[factors[:, 2]],
      ORIENTATIONS[factors[:, 3]],
      POSITIONS[factors[:, 4]],
      POSITIONS[factors[:, 5]],
  ], axis=1)


def _inside_heart(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
  """True where (lx, ly) (local units) lies in the union of both lobes' convex hulls with the tip.

  The hull of a disk and a point is the disk plus the triangle spanned by the point and the
  disk's two tangent points; a point is in that triangle iff it is within the cone's
  half-angle of the tip→centre axis and not beyond the chord through the tangent points.
  """
  tip_x, tip_y = _HEART_TIP
  radius = _HEART_LOBE_RADIUS
  inside = np.zeros(np.broadcast(lx, ly).shape, dtype=bool)
  for cx, cy in _HEART_LOBE_CENTRES:
    inside |= (lx - cx) ** 2 + (ly - cy) ** 2 <= radius ** 2
    axis_x, axis_y = cx - tip_x, cy - tip_y
    axis_len = np.hypot(axis_x, axis_y)
    axis_x, axis_y = axis_x / axis_len, axis_y / axis_len
    cos_half_angle = np.sqrt(1.0 - (radius / axis_len) ** 2)
    vx, vy = lx - tip_x, ly - tip_y
    along = vx * axis_x + vy * axis_y
    within_angle = along >= np.hypot(vx, vy) * cos_half_angle
    before_chord = along <= axis_len * cos_half_angle ** 2
    inside |= within_angle & before_chord
  return inside


def render(factors: np.ndarray, dtype=np.uint8) -> np.ndarray:
  """Renders dSprites images from class indices.

  Args:
    factors: int array (N, 6) of class indices in the official order
      (color, shape, scale, orientation, posX, posY), or (N, 5) without the colour column.
    dtype: output dtype; images hold 0 and 1 only.

  Returns:
    Array (N, 64, 64) of 0/1 values.
  """
  factors = np.asarray(factors)
  if factors.ndim != 2 or factors.shape[1] not in (5, 6):
    raise ValueError(
        f"dSprites factors must have shape (N, 6) (color, shape, scale, orientation, posX, "
        f"posY) or (N, 5) without color; got {factors.shape}.")
  if factors.shape[1] == 5:
    factors = np.concatenate([np.zeros((len(factors), 1), factors.dtype), factors], axis=1)
  factors = factors.astype(np.int64)
  sizes = np.asarray(FACTOR_SIZES)
  if np.any(factors < 0) or np.any(factors >= sizes):
    raise ValueError(f"dSprites factor indices out of range; sizes are {FACTOR_SIZES}.")

  shape = factors[:, 1]
  # Per-image affine map from pixel centres to local shape units, applied in float32 (the
  # images are identical to a float64 evaluation on the fixtures and at the exact counts).
  scale = SCALES[factors[:, 2]][:, None, None]
  theta = ORIENTATIONS[factors[:, 3]][:, None, None]
  centre_x = IMAGE_SIZE * (0.25 + 0.5 * POSITIONS[factors[:, 4]])[:, None, None]
  centre_y = IMAGE_SIZE * (0.25 + 0.5 * POSITIONS[factors[:, 5]])[:, None, None]
  dx = _PIXEL_CENTRES[None, None, :] - centre_x  # columns, (N, 1, 64)
  dy = _PIXEL_CENTRES[None, :, None] - centre_y  # rows, (N, 64, 1)
  cos = (np.cos(theta) / (IMAGE_SIZE * scale))
  sin = (np.sin(theta) / (IMAGE_SIZE * scale))
  lx = (cos * dx).astype(np.float32) - (sin * dy).astype(np.float32)
  ly = (sin * dx).astype(np.float32) + (cos * dy).astype(np.float32)

  images = np.zeros((len(factors), IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
  for shape_index, inside_fn in enumerate((_inside_square, _inside_ellipse, _inside_heart)):
    rows = np.flatnonzero(shape == shape_index)
    if rows.size:
      images[rows] = inside_fn(lx[rows], ly[rows])
  return images.astype(dtype)


def _inside_square(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
  return (np.abs(lx) <= _SQUARE_HALF_SIDE) & (np.abs(ly) <= _SQUARE_HALF_SIDE)


def _inside_ellipse(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
  return (lx / _ELLIPSE_SEMI_X) ** 2 + (ly / _ELLIPSE_SEMI_Y) ** 2 <= 1.0


def all_factors() -> np.ndarray:
  """Every factor combination (737,280, 6) in the official C order."""
  grids = np.meshgrid(*[np.arange(n) for n in FACTOR_SIZES], indexing="ij")
  return np.stack([g.ravel() for g in grids], axis=1)
