"""dSprites and its dlib variants (color, noisy, scream), real or procedural.

The image source is chosen once, at construction, and logged:

* ``real``: the official file under ``$DISENTANGLEMENT_LIB_DATA/dsprites/`` — the ``.npz``
  (``imgs``, ``latents_classes``, ``latents_values``, ``metadata``) or the ``.hdf5``;
* ``procedural``: images rendered on the fly by :mod:`dsprites_render`, or read from a
  cache written by :func:`write_procedural_npz` in the official ``.npz`` layout;
* ``tfds``: a prepared TensorFlow Datasets copy (see :mod:`tfds_source`), put back in the
  official order by its labels;
* ``auto`` (default): real if a file is there, else a prepared TFDS copy if there is one, else
  procedural.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from dynvae_keras import __version__
from dynvae_keras.data import dsprites_render, files
from dynvae_keras.data.ground_truth_data import GroundTruthData
from dynvae_keras.data.state_space import SplitDiscreteStateSpace

logger = logging.getLogger(__name__)

DSPRITES_NPZ = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_HDF5 = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5"
SCREAM_JPG = os.path.join("scream", "scream.jpg")
NUM_IMAGES = int(np.prod(dsprites_render.FACTOR_SIZES))
SOURCES = ("auto", "real", "procedural", "tfds")


class _RenderedImages:
  """Renders images on demand from full factor vectors (N, 6)."""

  description = (f"procedural dSprites renderer {dsprites_render.RENDERER_VERSION} "
                 f"(dynvae-keras {__version__}), rendered on the fly")
  path = None

  def __getitem__(self, all_factors):
    return dsprites_render.render(all_factors)


class _StoredImages:
  """Images held in memory in the official C order, looked up by factor vectors (N, 6)."""

  def __init__(self, images, description, path=None):
    self.images = images
    self.description = description
    self.path = path  # the file the images were read from (None: TFDS)
    self._bases = NUM_IMAGES // np.cumprod(dsprites_render.FACTOR_SIZES)

  def __getitem__(self, all_factors):
    return self.images[np.asarray(all_factors, dtype=np.int64) @ self._bases]


_WARNED = set()


def _warn_once(key, message):
  """Logs a warning the first time `key` is seen in this process."""
  if key not in _WARNED:
    _WARNED.add(key)
    logger.warning(message)


def _load_npz(path):
  with np.load(path, encoding="latin1", allow_pickle=True) as data:
    files.require_keys(path, data.files, ["imgs"])
    images = np.asarray(data["imgs"])
    is_cache = "procedural_renderer" in data.files
  _check_images(path, images)
  return _StoredImages(images, ("procedural cache " if is_cache else "real ") + path, path)


def _load_hdf5(path):
  import h5py  # pylint: disable=g-import-not-at-top
  with h5py.File(path, "r") as f:
    files.require_keys(path, list(f.keys()), ["imgs"])
    images = f["imgs"][()]
  _check_images(path, images)
  return _StoredImages(images, "real " + path, path)


def _load_tfds():
  from dynvae_keras.data import tfds_source  # pylint: disable=g-import-not-at-top
  images = tfds_source.load_images("dsprites")[..., 0]
  if images.max() > 1:  # TFDS stores the binary images as 0/255
    images = (images > 127).astype(np.uint8)
  return _StoredImages(images, "TFDS dsprites in " + tfds_source.tfds_data_dir())


def _check_images(path, images):
  if images.shape != (NUM_IMAGES, 64, 64):
    raise files.DatasetFormatError(
        f"{path}: 'imgs' has shape {images.shape}, expected ({NUM_IMAGES}, 64, 64). The file is "
        f"truncated or not dSprites; re-download it, or delete it to use the procedural dSprites.")


def _image_source(source: str, cache_path: str | None):
  if source not in SOURCES:
    raise ValueError(f"Unknown dSprites source '{source}'; use one of {SOURCES}.")
  npz = files.data_path("dsprites", DSPRITES_NPZ)
  hdf5 = files.data_path("dsprites", DSPRITES_HDF5)
  if source == "tfds":
    return _load_tfds()
  if source in ("auto", "real"):
    if os.path.exists(npz):
      return _load_npz(npz)
    if os.path.exists(hdf5):
      return _load_hdf5(hdf5)
    if source == "auto":
      from dynvae_keras.data import tfds_source  # pylint: disable=g-import-not-at-top
      if tfds_source.is_prepared("dsprites"):
        return _load_tfds()
    if source == "real":
      raise files.missing_files_error(
          "dsprites (real)", [npz, hdf5],
          "download the official dSprites file to one of these paths, or use source='auto' / "
          "'procedural' for the procedural dSprites.")
  if cache_path and os.path.exists(cache_path):
    return _load_npz(cache_path)
  return _RenderedImages()


class DSprites(GroundTruthData):
  """dSprites (dlib's `DSprites`): binary 64×64×1 sprites with 5 latent factors.

  Factors (full order): color (1, always hidden), shape 3, scale 6, orientation 40,
  posX 32, posY 32. Factors not in `latent_factor_indices` are hidden and drawn from the
  random state at render time, after the latent ones, in index order.

  Args:
    latent_factor_indices: indices into the 6 full factors seen by the metrics
      (dlib default: all 6; `dsprites_full` uses [1, 2, 3, 4, 5]).
    source: 'auto', 'real', 'procedural' or 'tfds' (see module docstring).
    cache_path: optional procedural cache (official `.npz` layout) to read images from.
  """

  def __init__(self, latent_factor_indices=None, source="auto", cache_path=None):
    if latent_factor_indices is None:
      latent_factor_indices = list(range(6))
    self.latent_factor_indices = list(latent_factor_indices)
    self.factor_sizes = list(dsprites_render.FACTOR_SIZES)
    self.full_factor_sizes = list(dsprites_render.FACTOR_SIZES)
    self.state_space = SplitDiscreteStateSpace(self.factor_sizes, self.latent_factor_indices)
    self.data_shape = [64, 64, 1]
    self.images = _image_source(source, cache_path)
    self.source = self.images.description
    self.source_files = [self.images.path] if self.images.path else []
    logger.info("%s: images from %s", type(self).__name__, self.source)
    if self.source.startswith("procedural"):
      _warn_once("procedural", f"No official dSprites file at "
                 f"{files.data_path('dsprites', DSPRITES_NPZ)}: {type(self).__name__} uses the "
                 f"{self.source}; results record it as dataset.source.")

  @property
  def num_factors(self):
    return self.state_space.num_latent_factors

  @property
  def factors_num_values(self):
    return [self.full_factor_sizes[i] for i in self.latent_factor_indices]

  @property
  def factor_names(self):
    return [dsprites_render.FACTOR_NAMES[i] for i in self.latent_factor_indices]

  @property
  def categorical_factors(self):
    """The shape (full factor 1), where it is a latent factor."""
    return tuple(k for k, i in enumerate(self.latent_factor_indices) if i == 1)

  @property
  def observation_shape(self):
    return self.data_shape

  def sample_factors(self, num, random_state):
    return self.state_space.sample_latent_factors(num, random_state)

  def sample_observations_from_factors(self, factors, random_state):
    return self.sample_observations_from_factors_no_color(factors, random_state)

  def sample_observations_from_factors_no_color(self, factors, random_state):
    """Binary sprites, float32 (N, 64, 64, 1); draws the hidden factors from `random_state`."""
    all_factors = self.state_space.sample_all_factors(factors, random_state)
    return self.images[all_factors].astype(np.float32)[..., None]

  @property
  def num_atoms(self):
    # Only plain dSprites renders deterministically; the variants draw colours or noise.
    return NUM_IMAGES if type(self).sample_observations_from_factors is DSprites.sample_observations_from_factors else None

  def sample_atom_indices(self, factors, random_state):
    if self.num_atoms is None:
      return super().sample_atom_indices(factors, random_state)
    all_factors = self.state_space.sample_all_factors(factors, random_state)
    return all_factors @ (NUM_IMAGES // np.cumprod(dsprites_render.FACTOR_SIZES))

  def observations_for_atoms(self, atoms):
    atoms = np.asarray(atoms, dtype=np.int64)
    all_factors = np.stack(np.unravel_index(atoms, dsprites_render.FACTOR_SIZES), axis=1)
    return self.images[all_factors].astype(np.float32)[..., None]


class ColorDSprites(DSprites):
  """dSprites with the sprite coloured by a U(0.5, 1)³ colour per image (64×64×3)."""

  def __init__(self, latent_factor_indices=None, source="auto", cache_path=None):
    super().__init__(latent_factor_indices, source, cache_path)
    self.data_shape = [64, 64, 3]

  def sample_observations_from_factors(self, factors, random_state):
    observations = np.repeat(self.sample_observations_from_factors_no_color(factors, random_state), 3, axis=3)
    color = random_state.uniform(0.5, 1, [observations.shape[0], 1, 1, 3])
    return (observations * color).astype(np.float32)


class NoisyDSprites(DSprites):
  """dSprites on uniform noise: min(sprite + U(0, 1) per pixel and channel, 1) (64×64×3)."""

  def __init__(self, latent_factor_indices=None, source="auto", cache_path=None):
    super().__init__(latent_factor_indices, source, cache_path)
    self.data_shape = [64, 64, 3]

  def sample_observations_from_factors(self, factors, random_state):
    observations = np.repeat(self.sample_observations_from_factors_no_color(factors, random_state), 3, axis=3)
    noise = random_state.uniform(0, 1, [observations.shape[0], 64, 64, 3])
    return np.minimum(observations + noise, 1.0).astype(np.float32)


def scream_like_image(height=274, width=350) -> np.ndarray:
  """A deterministic swirling orange/blue 'scream-like' stand-in picture, float (H, W, 3) in [0, 1].

  Used when the user has no `scream/scream.jpg`; it is not Munch's painting, only a
  structured colourful background of the same size.
  """
  rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
  y, x = rows / height - 0.55, cols / width - 0.5
  radius, angle = np.hypot(x, y), np.arctan2(y, x)
  swirl = np.sin(14 * radius + 3 * angle + 6 * x) * 0.5 + 0.5
  bands = np.sin(9 * y + 2 * np.sin(5 * x)) * 0.5 + 0.5
  red = 0.35 + 0.6 * swirl * (1 - 0.5 * bands)
  green = 0.15 + 0.45 * swirl * bands
  blue = 0.2 + 0.6 * (1 - swirl) * (0.4 + 0.6 * bands)
  return np.clip(np.stack([red, green, blue], axis=-1), 0, 1)


class ScreamDSprites(DSprites):
  """dSprites over random 64×64 crops of a 350×274 picture, sprite pixels inverted (64×64×3).

  Each background is (crop + U(0, 1)³) / 2. The picture is `$DISENTANGLEMENT_LIB_DATA/scream/
  scream.jpg` when present (resized like dlib), else :func:`scream_like_image`.
  """

  def __init__(self, latent_factor_indices=None, source="auto", cache_path=None):
    super().__init__(latent_factor_indices, source, cache_path)
    self.data_shape = [64, 64, 3]
    path = files.data_path(SCREAM_JPG)
    if os.path.exists(path):
      from PIL import Image  # pylint: disable=g-import-not-at-top
      with Image.open(path) as picture:
        picture = picture.convert("RGB")
        picture.thumbnail((350, 274))
        self.scream = np.asarray(picture) / 255.0
      self.background_source = "real " + path
      self.source_files = self.source_files + [path]
    else:
      self.scream = scream_like_image()
      self.background_source = "scream-like stand-in (no " + path + ")"
      _warn_once("scream", f"ScreamDSprites uses a generated scream-like background, not "
                 f"The Scream (none at {path}); results record this as dataset.source.")
    self.source = f"{self.source}; background {self.background_source}"
    logger.info("ScreamDSprites: background from %s", self.background_source)

  def sample_observations_from_factors(self, factors, random_state):
    observations = np.repeat(self.sample_observations_from_factors_no_color(factors, random_state), 3, axis=3)
    for i in range(observations.shape[0]):
      x_crop = random_state.randint(0, self.scream.shape[0] - 64)
      y_crop = random_state.randint(0, self.scream.shape[1] - 64)
      background = (self.scream[x_crop:x_crop + 64, y_crop:y_crop + 64] +
                    random_state.uniform(0, 1, size=3)) / 2.0
      mask = observations[i] == 1
      background[mask] = 1 - background[mask]
      observations[i] = background
    return observations.astype(np.float32)


def write_procedural_npz(path: str, chunk_size: int = 16384) -> str:
  """Renders all 737,280 images and writes them in the official `.npz` layout (atomically).

  Keys: `imgs` uint8 (N, 64, 64), `latents_classes` int64 (N, 6), `latents_values` float64
  (N, 6), `metadata` (dict with `latents_sizes`, `latents_names`, ...) and
  `procedural_renderer` (marks the file as ours). Returns `path`.
  """
  factors = dsprites_render.all_factors()
  images = np.empty((NUM_IMAGES, 64, 64), dtype=np.uint8)
  for start in range(0, NUM_IMAGES, chunk_size):
    images[start:start + chunk_size] = dsprites_render.render(factors[start:start + chunk_size])
  metadata = {
      "date": "procedural", "description": "Procedural dSprites rendered by dynvae_keras",
      "latents_sizes": np.array(dsprites_render.FACTOR_SIZES),
      "latents_names": dsprites_render.FACTOR_NAMES,
      "latents_possible_values": {
          "shape": np.array([1.0, 2.0, 3.0]), "scale": dsprites_render.SCALES,
          "orientation": dsprites_render.ORIENTATIONS,
          "posX": dsprites_render.POSITIONS, "posY": dsprites_render.POSITIONS,
          "color": np.array([1.0])},
  }
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp.npz")
  np.savez(tmp, imgs=images, latents_classes=factors,
           latents_values=dsprites_render.latent_values(factors),
           metadata=np.array(metadata, dtype=object),
           procedural_renderer=np.array("dynvae_keras.data.dsprites_render"))
  os.replace(tmp, path)
  return path
