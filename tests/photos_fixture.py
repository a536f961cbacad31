"""Photos that registry packages ship, written as files for --calibration_dir."""

import pathlib

import numpy as np
from PIL import Image


def write_astronaut(directory: pathlib.Path) -> pathlib.Path:
  import skimage.data

  directory.mkdir(parents=True, exist_ok=True)
  path = directory / "astronaut.png"
  Image.fromarray(np.asarray(skimage.data.astronaut())).save(path)
  return path


def grace_hopper() -> np.ndarray:
  """matplotlib's sample photo of Grace Hopper (one frontal face), never used for calibration."""
  import matplotlib.cbook

  with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
    return np.asarray(Image.open(f).convert("RGB"))
