"""dlib's named data sets: `get_named_ground_truth_data(name)`, gin-configurable as `dataset.name`."""

from __future__ import annotations

import gin

from dynvae_keras.data import dsprites, dummy, file_datasets, files, image_folders, rectangles

_BUILDERS = {
    "dsprites_full": lambda: dsprites.DSprites([1, 2, 3, 4, 5]),
    "dsprites_noshape": lambda: dsprites.DSprites([2, 3, 4, 5]),
    "color_dsprites": lambda: dsprites.ColorDSprites([1, 2, 3, 4, 5]),
    "noisy_dsprites": lambda: dsprites.NoisyDSprites([1, 2, 3, 4, 5]),
    "scream_dsprites": lambda: dsprites.ScreamDSprites([1, 2, 3, 4, 5]),
    "smallnorb": file_datasets.SmallNORB,
    "cars3d": file_datasets.Cars3D,
    "mpi3d_toy": lambda: file_datasets.MPI3D("mpi3d_toy"),
    "mpi3d_realistic": lambda: file_datasets.MPI3D("mpi3d_realistic"),
    "mpi3d_real": lambda: file_datasets.MPI3D("mpi3d_real"),
    "mpi3d_complex": lambda: file_datasets.MPI3D("mpi3d_complex"),
    "shapes3d": file_datasets.Shapes3D,
    # Not in dlib: image-folder data sets (L-VAE's and DynamicVAE's papers), see `image_folders`.
    "falcor3d": image_folders.Falcor3D,
    "isaac3d": image_folders.Isaac3D,
    "celeba": image_folders.CelebA,
    "dummy_data": dummy.DummyData,
    # Not in dlib: a two-factor toy that disentangles in seconds (see `rectangles`).
    "rectangles": rectangles.Rectangles,
}

#: Every name `get_named_ground_truth_data` accepts.
DATASET_NAMES = tuple(_BUILDERS)


@gin.configurable("dataset", denylist=[])
def get_named_ground_truth_data(name):
  """Returns the ground-truth data set called `name` (dlib's names, see `DATASET_NAMES`).

  dSprites variants use the real file under `$DISENTANGLEMENT_LIB_DATA/dsprites/` when
  present, else the procedural renderer; the other data sets need their files.
  """
  if name not in _BUILDERS:
    raise files.UnknownDatasetError(f"Unknown dataset name '{name}'. Known names: {', '.join(DATASET_NAMES)}.")
  return _BUILDERS[name]()
