"""Images from a prepared TensorFlow Datasets (TFDS) copy of dSprites or Shapes3D.

TFDS shuffles examples when it prepares a data set, so the images are put back in the official
C order of the factors by their labels: `flat index = ravel_multi_index(labels, sizes)`. The
result must hold every factor combination exactly once; anything else is a clear error.

Where: `$TFDS_DATA_DIR` if set, else `$DISENTANGLEMENT_LIB_DATA/tensorflow_datasets`. Prepare
the data set there with TFDS first (e.g. `tfds build dsprites --data_dir DIR`, or
`tfds build dsprites --manual_dir ...` where TFDS supports it; TFDS needs the network or the
official file to prepare). Reading a prepared copy is offline.
"""

from __future__ import annotations

import os

import numpy as np

from dynvae_keras.data import files

#: TFDS name → (label feature names in the official factor order, factor sizes, split).
TFDS_LAYOUTS = {
    "dsprites": (("label_shape", "label_scale", "label_orientation", "label_x_position",
                  "label_y_position"), (3, 6, 40, 32, 32), "train"),
    "shapes3d": (("label_floor_hue", "label_wall_hue", "label_object_hue", "label_scale",
                  "label_shape", "label_orientation"), (10, 10, 10, 8, 4, 15), "train"),
}


def tfds_data_dir() -> str:
  return os.environ.get("TFDS_DATA_DIR") or files.data_path("tensorflow_datasets")


def is_prepared(name: str, data_dir: str | None = None) -> bool:
  """Whether `data_dir` holds a prepared copy of TFDS data set `name` (cheap: no TFDS import)."""
  return os.path.isdir(os.path.join(data_dir or tfds_data_dir(), name))


def iterate_examples(name, data_dir, split):
  """Yields (image uint8 (H, W, C), {label: int}) from a prepared TFDS data set."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  label_keys = TFDS_LAYOUTS[name][0]
  builder = tfds.builder(name, data_dir=data_dir)
  for example in tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)):
    yield example["image"], {key: int(example[key]) for key in label_keys}


def load_images(name: str, data_dir: str | None = None) -> np.ndarray:
  """uint8 images (N, H, W, C) of TFDS data set `name` in the official factor order."""
  if name not in TFDS_LAYOUTS:
    raise ValueError(f"No TFDS layout for '{name}'; supported: {sorted(TFDS_LAYOUTS)}.")
  data_dir = data_dir or tfds_data_dir()
  if not is_prepared(name, data_dir):
    raise files.DatasetNotFoundError(
        f"No prepared TFDS '{name}' under {data_dir}: prepare it with TFDS there "
        f"(`tfds build {name} --data_dir {data_dir}`), set TFDS_DATA_DIR to where it is, or use "
        "the data set's files instead.")
  label_keys, sizes, split = TFDS_LAYOUTS[name]
  total = int(np.prod(sizes))
  images, seen = None, np.zeros(total, dtype=bool)
  for image, labels in iterate_examples(name, data_dir, split):
    index = np.ravel_multi_index([labels[key] for key in label_keys], sizes)
    if images is None:
      images = np.zeros((total,) + tuple(np.shape(image)), dtype=np.uint8)
    if seen[index]:
      raise files.DatasetFormatError(
          f"TFDS '{name}' in {data_dir} holds the factor combination {labels} twice; the copy is "
          "corrupt: delete it and prepare it again.")
    images[index], seen[index] = image, True
  if not seen.all():
    raise files.DatasetFormatError(
        f"TFDS '{name}' in {data_dir} holds {int(seen.sum())} of the {total} factor combinations; "
        "the copy is incomplete: delete it and prepare it again.")
  return images
