"""Loads calibration photos in a fixed order, whatever the file system lists first."""

import dataclasses
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from mediapipe_int8.errors import UserError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


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
    try:
      with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    except FileNotFoundError:
      raise UserError(f"{path}: calibration photo does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
      raise UserError(f"{path}: calibration photo cannot be read ({type(e).__name__})") from None
    photos.append(Photo(os.path.basename(path), pixels))
  photos.sort(key=lambda p: (p.name, p.pixels.shape, p.pixels.tobytes()))
  return photos
