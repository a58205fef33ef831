"""`ArrayGroundTruthData`: a user's own labelled image arrays as a dlib ground-truth data set."""

from __future__ import annotations

import numpy as np

from dynvae_keras.data.indexed_images import IndexedImageData


class ArrayGroundTruthData(IndexedImageData):
  """Labelled images with a complete factorial design, usable by every metric and for training.

  Args:
    images: (N, H, W) or (N, H, W, C); uint8 (0..255) or float in [0, 1].
    factor_classes: (N, K) labels; each column's distinct values (sorted) become classes
      0..n_k−1. Every combination of classes must occur exactly once (N = Π n_k), because
      dlib's metrics sample factors independently and need an image for each combination.
    factor_names: optional K names.

  Example:
    >>> data = ArrayGroundTruthData(images, labels, factor_names=["shape", "size"])
    >>> factors, x = data.sample(16, np.random.RandomState(0))
  """

  def __init__(self, images, factor_classes, factor_names=None):
    images = np.asarray(images)
    if images.ndim == 3:
      images = images[..., None]
    if images.ndim != 4:
      raise ValueError(f"images must be (N, H, W) or (N, H, W, C); got shape {images.shape}.")
    if images.dtype != np.uint8:
      if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be uint8 or float in [0, 1]; got dtype {images.dtype}.")
      if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1:
        raise ValueError("float images must be finite and in [0, 1]; divide uint8 data by 255.")
    labels = np.asarray(factor_classes)
    if labels.ndim != 2 or len(labels) != len(images):
      raise ValueError(f"factor_classes must be (N={len(images)}, K); got shape {labels.shape}.")
    if labels.shape[1] == 0:
      raise ValueError("factor_classes has 0 factors; at least one factor is needed.")
    self.factor_values = []
    classes = np.zeros(labels.shape, dtype=np.int64)
    for k in range(labels.shape[1]):
      values, classes[:, k] = np.unique(labels[:, k], return_inverse=True)
      self.factor_values.append(values)
    sizes = [len(v) for v in self.factor_values]
    if factor_names is not None and len(factor_names) != len(sizes):
      raise ValueError(f"{len(factor_names)} factor_names for {len(sizes)} factors.")
    self.factor_names = list(factor_names) if factor_names is not None else [
        f"factor_{k}" for k in range(len(sizes))]
    try:
      super().__init__(images, sizes, list(range(len(sizes))), features=classes,
                       source="user arrays")
    except ValueError as e:
      raise ValueError(
          f"ArrayGroundTruthData needs exactly one image per combination of factor classes "
          f"(sizes {sizes}, {int(np.prod(sizes))} combinations, {len(images)} images): {e}") from e
