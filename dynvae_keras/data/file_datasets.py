"""Loaders for the file-backed dlib data sets: Shapes3D, SmallNORB, Cars3D, MPI3D.

Paths follow dlib under ``$DISENTANGLEMENT_LIB_DATA``. Missing files raise
:class:`files.DatasetNotFoundError` naming the expected paths and the fix; these data sets
never fall back to anything else. Images stay uint8 in memory and are scaled per batch.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from dynvae_keras.data import files, tfds_source
from dynvae_keras.data.indexed_images import IndexedImageData

logger = logging.getLogger(__name__)

SHAPES3D_FACTOR_SIZES = [10, 10, 10, 8, 4, 15]
SHAPES3D_H5 = os.path.join("3dshapes", "3dshapes.h5")
SHAPES3D_NPZ = os.path.join(
    "3dshapes", "look-at-object-room_floor-hueXwall-hueXobj-hueXobj-sizeXobj-shapeXview-azi.npz")

SMALLNORB_FACTOR_SIZES = [5, 10, 9, 18, 6]  # category, instance, elevation, azimuth, lighting
SMALLNORB_LATENT_INDICES = [0, 2, 3, 4]  # instance is hidden
SMALLNORB_TEMPLATE = os.path.join("small_norb", "smallnorb-{}-{}.mat")
SMALLNORB_CHUNKS = ["5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing"]

CARS3D_FACTOR_SIZES = [4, 24, 183]  # elevation, azimuth, object
CARS3D_DIR = "cars"

#: MPI3D data sets: file under $DISENTANGLEMENT_LIB_DATA/<name>/. dlib's three, and MPI3D-complex
#: (real images of more complex shapes; not in dlib; 460,800 images in dlib's layout only).
MPI3D_FILES = {
    "mpi3d_toy": "mpi3d_toy.npz",
    "mpi3d_realistic": "mpi3d_realistic.npz",
    "mpi3d_real": "mpi3d_real.npz",
    "mpi3d_complex": "real3d_complicated_shapes_ordered.npz",
}
MPI3D_MODES = tuple(MPI3D_FILES)
#: MPI3D factor sizes (colour, shape, size, camera height, background, first DOF, second DOF),
#: told apart by the file's image count. dlib's: the subset without held-out colour and shape
#: values that its download fetched (460,800 images); dlib hard-codes these sizes for all three
#: modes, so its files keep them and scores stay comparable. The full set hosted today for all
#: three modes: 6 colours and 6 shapes (1,036,800 images), the same factor order.
MPI3D_LAYOUTS = (
    ([4, 4, 2, 3, 3, 40, 40], "dlib's layout, without held-out factor values"),
    ([6, 6, 2, 3, 3, 40, 40], "the full set"),
)


def _log(data):
  logger.info("%s: images from %s", type(data).__name__, data.source)
  return data


class Shapes3D(IndexedImageData):
  """3D Shapes (64×64×3): floor hue 10, wall hue 10, object hue 10, scale 8, shape 4, orientation 15.

  Reads the official `3dshapes/3dshapes.h5` (`images`, `labels`, C order) or dlib's `.npz`.
  """

  categorical_factors = (4,)  # shape

  def __init__(self):
    h5_path, npz_path = files.data_path(SHAPES3D_H5), files.data_path(SHAPES3D_NPZ)
    if os.path.exists(h5_path):
      import h5py  # pylint: disable=g-import-not-at-top
      with h5py.File(h5_path, "r") as f:
        files.require_keys(h5_path, list(f.keys()), ["images", "labels"])
        images = f["images"][()]
      path = h5_path
    elif os.path.exists(npz_path):
      with np.load(npz_path, encoding="latin1") as data:
        files.require_keys(npz_path, data.files, ["images"])
        images = data["images"]
      path = npz_path
    elif tfds_source.is_prepared("shapes3d"):
      images = tfds_source.load_images("shapes3d")
      path = "TFDS shapes3d in " + tfds_source.tfds_data_dir()
    else:
      raise files.missing_files_error(
          "shapes3d", [h5_path, npz_path],
          f"place the official 3dshapes.h5 at {h5_path} (dlib's .npz also works), or prepare "
          f"the TFDS 'shapes3d' under {tfds_source.tfds_data_dir()}.")
    images = images.reshape((-1,) + images.shape[-3:])
    _check_shape(path, images, (64, 64, 3))
    source = path if path.startswith("TFDS") else "real " + path
    super().__init__(images, SHAPES3D_FACTOR_SIZES, range(6), source=source)
    self.source_files = [] if path.startswith("TFDS") else [path]
    _log(self)


def _check_shape(path, images, shape):
  if tuple(images.shape[1:]) != shape:
    raise files.DatasetFormatError(f"{path}: images have shape {images.shape[1:]}, expected {shape}.")


_NORB_DTYPES = {507333717: np.uint8, 507333716: np.int32, 507333713: np.float32,
                507333715: np.float64}


def read_norb_matrix(path: str) -> np.ndarray:
  """Reads a SmallNORB binary matrix file (magic, ndim, dims, then the data, little endian)."""
  with open(path, "rb") as f:
    raw = f.read()
  if len(raw) < 20:
    raise files.DatasetFormatError(f"{path}: too short to be a SmallNORB matrix file.")
  magic, ndim = np.frombuffer(raw, "<i4", 2)
  if int(magic) not in _NORB_DTYPES:
    raise files.DatasetFormatError(f"{path}: unknown SmallNORB magic number {int(magic)}.")
  header_dims = max(3, int(ndim))
  dims = [int(d) for d in np.frombuffer(raw, "<i4", header_dims, 8)[:int(ndim)]]
  data = np.frombuffer(raw, _NORB_DTYPES[int(magic)], offset=8 + 4 * header_dims)
  if data.size != int(np.prod(dims)):
    raise files.DatasetFormatError(f"{path}: {data.size} values for dimensions {dims}; file truncated?")
  return data.reshape(dims)


class SmallNORB(IndexedImageData):
  """SmallNORB (64×64×1): category 5, elevation 9, azimuth 18, lighting 6; instance (10) hidden.

  Reads dlib's six files `small_norb/smallnorb-<chunk>-{dat,cat,info}.mat` (the binary NORB
  matrix format, not MATLAB), takes the first camera and resizes 96→64 with Lanczos as dlib.
  """

  categorical_factors = (0,)  # category

  def __init__(self):
    from PIL import Image  # pylint: disable=g-import-not-at-top
    paths = [files.data_path(SMALLNORB_TEMPLATE.format(chunk, kind))
             for chunk in SMALLNORB_CHUNKS for kind in ("dat", "cat", "info")]
    if not all(os.path.exists(p) for p in paths):
      raise files.missing_files_error(
          "smallnorb", paths, "download the six SmallNORB .mat files (uncompressed) to these paths.")
    images, features = [], []
    for chunk in SMALLNORB_CHUNKS:
      path = lambda kind: files.data_path(SMALLNORB_TEMPLATE.format(chunk, kind))  # pylint: disable=cell-var-from-loop
      dat = read_norb_matrix(path("dat"))
      images.append(np.stack([np.asarray(Image.fromarray(img).resize((64, 64), Image.LANCZOS))
                              for img in dat[:, 0]]))
      features.append(np.column_stack((read_norb_matrix(path("cat")), read_norb_matrix(path("info")))))
    features = np.concatenate(features, axis=0).astype(np.int64)
    features[:, 3] = features[:, 3] // 2  # azimuths are stored as 0, 2, ..., 34
    super().__init__(np.concatenate(images)[..., None], SMALLNORB_FACTOR_SIZES,
                     SMALLNORB_LATENT_INDICES, features=features,
                     source="real " + files.data_path("small_norb"))
    self.source_files = paths
    _log(self)


class Cars3D(IndexedImageData):
  """Cars3D (64×64×3): elevation 4, azimuth 24, object 183, from `cars/*.mat` (key `im`).

  Files are taken in sorted name order (dlib used the directory listing order, which is
  filesystem dependent); each 128×128 view is thumbnailed to 64×64 with Lanczos as dlib.
  """

  categorical_factors = (2,)  # object, as the DCI-ES authors treat it

  def __init__(self):
    import scipy.io  # pylint: disable=g-import-not-at-top
    from PIL import Image  # pylint: disable=g-import-not-at-top
    directory = files.data_path(CARS3D_DIR)
    names = sorted(n for n in os.listdir(directory) if n.endswith(".mat")) if os.path.isdir(directory) else []
    num_objects = CARS3D_FACTOR_SIZES[2]
    if len(names) != num_objects:
      raise files.missing_files_error(
          "cars3d", [os.path.join(directory, f"*.mat ({num_objects} files; found {len(names)})")],
          "extract the Cars3D archive (car_*_mesh.mat files) into this directory.")
    views = CARS3D_FACTOR_SIZES[0] * CARS3D_FACTOR_SIZES[1]
    images = np.zeros((views * num_objects, 64, 64, 3), dtype=np.uint8)
    for obj, name in enumerate(names):
      path = os.path.join(directory, name)
      content = scipy.io.loadmat(path)
      files.require_keys(path, content.keys(), ["im"])
      mesh = np.einsum("abcde->deabc", content["im"])  # (azimuth, elevation, H, W, 3)
      flat = mesh.reshape((-1,) + mesh.shape[2:])
      for k, view in enumerate(flat):
        picture = Image.fromarray(view)
        picture.thumbnail((64, 64), Image.LANCZOS)
        # view k is (azimuth k // 4, elevation k % 4): C-order row (elev, azim, obj).
        images[((k % 4) * 24 + k // 4) * num_objects + obj] = np.asarray(picture)
    super().__init__(images, CARS3D_FACTOR_SIZES, range(3), source="real " + directory)
    self.source_files = [os.path.join(directory, name) for name in names]
    _log(self)


class MPI3D(IndexedImageData):
  """MPI3D (64×64×3): colour, shape, size, camera height, background colour, first/second DOF.

  Args:
    mode: 'mpi3d_toy', 'mpi3d_realistic' or 'mpi3d_real' (dlib's; `<mode>/<mode>.npz`) or
      'mpi3d_complex' (`mpi3d_complex/real3d_complicated_shapes_ordered.npz`), key `images`,
      in either layout of `MPI3D_LAYOUTS` (chosen by the image count; `layout` and `source`
      say which). MPI3D-complex is published in dlib's layout only.
  """

  categorical_factors = (0, 1, 4)  # colour, shape, background colour, as the DCI-ES authors

  def __init__(self, mode="mpi3d_toy"):
    if mode not in MPI3D_MODES:
      raise ValueError(f"Unknown MPI3D mode '{mode}'; use one of {list(MPI3D_MODES)}.")
    path = files.data_path(mode, MPI3D_FILES[mode])
    if not os.path.exists(path):
      raise files.missing_files_error(mode, [path], f"download {MPI3D_FILES[mode]} to {path}.")
    with np.load(path) as data:
      files.require_keys(path, data.files, ["images"])
      images = data["images"]
    images = images.reshape((-1,) + images.shape[-3:])
    _check_shape(path, images, (64, 64, 3))
    layouts = {int(np.prod(sizes)): (sizes, name) for sizes, name in MPI3D_LAYOUTS}
    if len(images) not in layouts:
      accepted = "; ".join(f"{count:,} images: {name}, factor sizes {sizes}"
                           for count, (sizes, name) in layouts.items())
      raise files.DatasetFormatError(
          f"{path} holds {len(images):,} images, which is neither MPI3D layout ({accepted}). "
          f"Fix: use the complete {MPI3D_FILES[mode]} as downloaded.")
    sizes, self.layout = layouts[len(images)]
    super().__init__(images, sizes, range(len(sizes)), source=f"real {path} ({self.layout})")
    self.source_files = [path]
    _log(self)
