"""Writes photos that scikit-image ships as RGB PNG files, for calibrating the quantizer.

Usage: export_skimage_photos.py OUT_DIR NAME...   (NAME: a skimage.data function, e.g. astronaut)
"""

import pathlib
import sys

import numpy as np
from PIL import Image
from skimage import data


def export(name: str, out_dir: pathlib.Path) -> pathlib.Path:
    photo = np.asarray(getattr(data, name)())
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    path = out_dir / f"{name}.png"
    Image.fromarray(photo[..., :3].astype(np.uint8), mode="RGB").save(path, format="PNG")
    return path


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(f"error: usage: {argv[0]} OUT_DIR NAME...", file=sys.stderr)
        return 2
    out_dir = pathlib.Path(argv[1])
    for name in argv[2:]:
        if not callable(getattr(data, name, None)):
            print(f"error: skimage.data has no photo {name!r}", file=sys.stderr)
            return 2
        export(name, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
