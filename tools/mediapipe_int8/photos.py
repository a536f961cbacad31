"""Loads calibration photos in a fixed order, whatever the file system lists first."""

import dataclasses
import os
import stat

import numpy as np
from PIL import Image, UnidentifiedImageError

from mediapipe_int8.errors import UserError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
# Larger photos are refused before they are decoded (a small file can decode to gigabytes).
MAX_PIXELS = 64_000_000
# Smaller sides say nothing about a scene a model sees, and break crops and letterboxing.
MIN_SIDE = 16


@dataclasses.dataclass(frozen=True)
class Photo:
  name: str  # the file's base name: never a path, so outputs don't depend on where it lives
  pixels: np.ndarray  # H x W x 3, uint8, RGB


def photo_paths(directory: str | None, files: list[str]) -> list[str]:
  """The photos of a folder (jpg, png, webp) plus single files, checked to exist."""
  paths = list(files)
  if directory:
    if not os.path.isdir(directory):
      raise UserError(f"{directory}: calibration folder does not exist")
    paths += [os.path.join(directory, n) for n in os.listdir(directory)
              if n.lower().endswith(EXTENSIONS)]
    if not paths:
      raise UserError(f"{directory}: calibration folder holds no .jpg, .png or .webp photo")
  return paths


def load(paths: list[str]) -> list[Photo]:
  """Reads every photo as RGB, ordered by base name then content, so order never depends on paths."""
  photos = []
  for path in paths:
    _check_regular_file(path)
    try:
      with Image.open(path) as image:
        _check_size(path, image.size)
        pixels = np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError:  # PIL's own cap, far above ours: its size is not known
      raise UserError(f"{path}: calibration photo has more than {MAX_PIXELS:,} pixels; scale it "
                      "down") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
      raise UserError(f"{path}: calibration photo cannot be read ({type(e).__name__})") from None
    photos.append(Photo(os.path.basename(path), pixels))
  photos.sort(key=lambda p: (p.name, p.pixels.shape, p.pixels.tobytes()))
  return photos


def _check_regular_file(path: str) -> None:
  """Before opening: a FIFO or device named like a photo would block or never end."""
  try:
    mode = os.stat(path).st_mode
  except FileNotFoundError:
    raise UserError(f"{path}: calibration photo does not exist") from None
  except OSError as e:
    raise UserError(f"{path}: calibration photo cannot be read ({e.strerror})") from None
  if not stat.S_ISREG(mode):
    raise UserError(f"{path}: calibration photo is not a regular file")


def _check_size(path: str, size: tuple[int, int]) -> None:
  width, height = size
  if width * height > MAX_PIXELS:
    raise UserError(f"{path}: calibration photo is {width}x{height} pixels, more than "
                    f"{MAX_PIXELS:,}; scale it down")
  if min(width, height) < MIN_SIDE:
    raise UserError(f"{path}: calibration photo is {width}x{height} pixels; each side must be at "
                    f"least {MIN_SIDE}")
