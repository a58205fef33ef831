"""A one-time 64×64 uint8 copy of a data set stored as image files, memory-mapped on later runs.

Data sets distributed as hundreds of thousands of image files (Falcor3D, Isaac3D, CelebA) are
decoded, optionally centre-cropped, and resized once to 64×64 with Pillow's Lanczos filter
(antialiased, as dlib resizes SmallNORB and Cars3D), into `<cache_dir>/images.npy` next to the
source, with `<cache_dir>/manifest.json` describing what it was made from:

* the image files: their count, total size in bytes, and a SHA-256 over their names and sizes
  (hashing the contents of 100+ GB of images would take longer than the conversion);
* extra files the data set reads (e.g. its label array): size and SHA-256 of the contents;
* the conversion: output size, crop and resize filter, and the cache format version.

A later run whose sources or conversion differ from the manifest rebuilds the cache, after a
warning that says what changed. The cache is built in a temporary sibling directory and
renamed into place when complete, so an interrupted conversion leaves nothing behind. It is
read with `mmap_mode="r"`: Isaac3D at 64×64×3 is 9 GB, and only the rows a batch needs are
read from disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

import numpy as np

from dynvae_keras import atomic
from dynvae_keras.data import files, provenance

logger = logging.getLogger(__name__)

#: Bumped when the conversion changes, so that older caches are rebuilt.
CACHE_FORMAT_VERSION = 1
RESIZE_FILTER = "PIL.Image.LANCZOS"


def image_files_fingerprint(paths):
  """{"count", "bytes", "names_and_sizes_sha256"} of a list of image files (order matters)."""
  digest, total = hashlib.sha256(), 0
  for path in paths:
    size = os.path.getsize(path)
    total += size
    digest.update(f"{os.path.basename(path)}\0{size}\n".encode())
  return {"count": len(paths), "bytes": total, "names_and_sizes_sha256": digest.hexdigest()}


def expected_manifest(image_paths, extra_files=(), size=64, crop=None):
  """The manifest a cache of these sources and this conversion must carry."""
  return {"format_version": CACHE_FORMAT_VERSION,
          "conversion": {"size": [size, size], "center_crop": crop, "resize_filter": RESIZE_FILTER,
                         "dtype": "uint8"},
          "images": image_files_fingerprint(image_paths),
          "extra_files": {os.path.basename(p): {"bytes": os.path.getsize(p), "sha256": provenance.sha256(p)}
                          for p in extra_files}}


def _differences(found, expected):
  """Top-level manifest entries that differ, as readable text."""
  return [f"{key}: cache {found.get(key)!r} vs sources {expected[key]!r}"
          for key in expected if found.get(key) != expected[key]]


def load_image(path, size=64, crop=None):
  """One image file as uint8 (size, size, 3): RGB, centre-cropped to `crop` (a square side in
  pixels) when given, resized with Lanczos when not already `size`×`size`."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as image:
      image = image.convert("RGB")
      if crop is not None:
        width, height = image.size
        if min(width, height) < crop:
          raise files.DatasetFormatError(f"{path} is {width}×{height}, smaller than the {crop}-pixel crop.")
        left, top = (width - crop) // 2, (height - crop) // 2
        image = image.crop((left, top, left + crop, top + crop))
      if min(image.size) < size:
        raise files.DatasetFormatError(f"{path} is {image.size[0]}×{image.size[1]}, smaller than "
                                       f"{size}×{size}; use the full-resolution files.")
      if image.size != (size, size):
        image = image.resize((size, size), Image.LANCZOS)
      return np.asarray(image, dtype=np.uint8)
  except OSError as e:
    raise files.DatasetFormatError(f"{path} cannot be read as an image ({e}). Fix: re-extract the "
                                   f"file from the data set's archive.") from e


def load_or_build(cache_dir, image_paths, extra_files=(), size=64, crop=None, description="images"):
  """The (N, size, size, 3) uint8 images of `image_paths` (read-only memmap) and the manifest.

  Builds `cache_dir` on first use (a progress bar shows the conversion) and whenever the
  manifest no longer matches the sources or the conversion.
  """
  expected = expected_manifest(image_paths, extra_files, size, crop)
  manifest_path = os.path.join(cache_dir, "manifest.json")
  images_path = os.path.join(cache_dir, "images.npy")
  if os.path.exists(manifest_path):
    with open(manifest_path, encoding="utf-8") as f:
      found = json.load(f)
    changed = _differences(found, expected)
    if not changed and os.path.exists(images_path):
      return np.load(images_path, mmap_mode="r"), found
    logger.warning("The %dx%d cache %s no longer matches its sources (%s); rebuilding it.", size, size,
                   cache_dir, "; ".join(changed) or "images.npy missing")
  _build(cache_dir, image_paths, size, crop, description, expected)
  return np.load(images_path, mmap_mode="r"), expected


def _build(cache_dir, image_paths, size, crop, description, manifest):
  from tqdm.auto import tqdm  # pylint: disable=g-import-not-at-top
  logger.info("Converting %d %s to %dx%d uint8 once, into %s.", len(image_paths), description, size,
              size, cache_dir)
  with atomic.atomic_directory(cache_dir, overwrite=True) as tmp:
    images = np.lib.format.open_memmap(os.path.join(tmp, "images.npy"), mode="w+", dtype=np.uint8,
                                       shape=(len(image_paths), size, size, 3))
    for i, path in enumerate(tqdm(image_paths, desc=f"Resizing {description} to {size}x{size} (once)",
                                  unit="img", mininterval=1.0)):
      images[i] = load_image(path, size, crop)
    images.flush()
    del images
    with open(os.path.join(tmp, "manifest.json"), "w", encoding="utf-8") as f:
      json.dump(manifest, f, indent=1, sort_keys=True)
