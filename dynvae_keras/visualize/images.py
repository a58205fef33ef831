"""Image grids and GIFs from float images in [0, 1] (NHWC)."""

from __future__ import annotations

import imageio.v2 as imageio
import numpy as np


def to_uint8(images):
  """float in [0, 1] → uint8 RGB (grayscale repeated over 3 channels)."""
  images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  return (images * 255 + 0.5).astype(np.uint8)


def grid(images, columns, pad=2, value=1.0):
  """Tiles images (N, H, W, C) row by row into one (rows·(H+pad), columns·(W+pad), C) image."""
  images = np.asarray(images, np.float32)
  n, h, w, c = images.shape
  rows = -(-n // columns)
  out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), value, np.float32)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = image
  return out


def save_png(path, image):
  imageio.imwrite(path, to_uint8(image[None])[0])


def save_gif(path, frames, fps=10):
  """Writes frames (T, H, W, C) in [0, 1] as a looping GIF."""
  imageio.mimsave(path, list(to_uint8(frames)), duration=1000 / fps, loop=0)
