"""What a model expects of an image input, read from the model itself.

Input size comes from the input tensor's shape; the normalisation (mean, std)
from the TFLITE_METADATA that MediaPipe reads for the same purpose.
"""

import dataclasses
import math

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from PIL import Image

from mediapipe_int8 import tflite_file
from mediapipe_int8.errors import UserError


@dataclasses.dataclass(frozen=True)
class ImageInput:
  height: int
  width: int
  mean: tuple[float, ...]
  std: tuple[float, ...]
  normalization_from_metadata: bool

  def normalize(self, pixels: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 (already of the input's size) -> float32 1 x H x W x 3."""
    values = (pixels.astype(np.float32) - np.float32(self.mean)) / np.float32(self.std)
    return values[np.newaxis].astype(np.float32)

  def resize_whole(self, pixels: np.ndarray) -> np.ndarray:
    """The whole photo, letterboxed to the input's aspect ratio, as the model's input."""
    return self.normalize(letterbox(pixels, self.width, self.height))


def image_input(model: schema.ModelT, source: str = "model") -> ImageInput | None:
  """The model's image input, or None when its first input is not an N x H x W x 3 float image.

  `source` names the model when its TFLITE_METADATA can't be read."""
  subgraph = model.subgraphs[0]
  tensor = subgraph.tensors[int(subgraph.inputs[0])]
  shape = [int(d) for d in tensor.shape]
  if len(shape) != 4 or shape[3] != 3 or tensor.type != schema.TensorType.FLOAT32:
    return None
  try:
    mean_std = _normalization(tflite_file.metadata_buffers(model).get("TFLITE_METADATA"))
  except Exception as e:  # a malformed flatbuffer raises whatever its bad offsets lead to
    raise UserError(f"{source}: metadata TFLITE_METADATA cannot be read ({type(e).__name__})") from None
  if mean_std is None:
    # No metadata: MediaPipe would refuse such a float model; [0, 1] is the common convention.
    return ImageInput(shape[1], shape[2], (0.0,), (255.0,), False)
  return ImageInput(shape[1], shape[2], mean_std[0], mean_std[1], True)


def _normalization(metadata: bytes | None):
  if not metadata:
    return None
  # Imported here: importing mediapipe costs seconds, and argument errors should come at once.
  from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_schema

  root = metadata_schema.ModelMetadataT.InitFromObj(
      metadata_schema.ModelMetadata.GetRootAs(metadata, 0))
  for subgraph in root.subgraphMetadata or []:
    for tensor in (subgraph.inputTensorMetadata or [])[:1]:
      for unit in tensor.processUnits or []:
        if unit.optionsType == metadata_schema.ProcessUnitOptions.NormalizationOptions:
          return tuple(float(v) for v in unit.options.mean), tuple(float(v) for v in unit.options.std)
  return None


def letterbox(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
  """Scales the photo to fit width x height, keeping its aspect ratio; pads with black."""
  h, w = pixels.shape[:2]
  scale = min(width / w, height / h)
  new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
  resized = np.asarray(Image.fromarray(pixels).resize((new_w, new_h), Image.BILINEAR))
  out = np.zeros((height, width, 3), np.uint8)
  top, left = (height - new_h) // 2, (width - new_w) // 2
  out[top:top + new_h, left:left + new_w] = resized
  return out


def crop(pixels: np.ndarray, center: tuple[float, float], side: float, angle: float,
         width: int, height: int, replicate_border: bool = False) -> np.ndarray:
  """A square region of side `side` px around `center`, rotated by `angle` rad, resampled to width x height.

  Outside the photo the crop is black, or with `replicate_border` the nearest edge pixel (as
  MediaPipe's ImageToTensorCalculator does unless told otherwise)."""
  if replicate_border:
    reach = side / math.sqrt(2) + 2
    h, w = pixels.shape[:2]
    pad = [max(0, math.ceil(reach - center[1])), max(0, math.ceil(center[1] + reach - h)),
           max(0, math.ceil(reach - center[0])), max(0, math.ceil(center[0] + reach - w))]
    if any(pad):
      pixels = np.pad(pixels, ((pad[0], pad[1]), (pad[2], pad[3]), (0, 0)), mode="edge")
      center = (center[0] + pad[2], center[1] + pad[0])
  cos, sin = np.cos(angle), np.sin(angle)
  sx, sy = side / width, side / height
  u0 = v0 = -side / 2  # PIL maps continuous coordinates (pixel centres at +0.5), as MediaPipe does
  coefficients = (cos * sx, -sin * sy, center[0] + cos * u0 - sin * v0,
                  sin * sx, cos * sy, center[1] + sin * u0 + cos * v0)
  image = Image.fromarray(pixels).transform((width, height), Image.AFFINE, coefficients,
                                            resample=Image.BILINEAR)
  return np.asarray(image)


def crop_as_mediapipe(pixels: np.ndarray, center: tuple[float, float], side: float, angle: float,
                      size: int, replicate_border: bool) -> np.ndarray:
  """crop() with MediaPipe's pixel convention (its ImageToTensorCalculator on the CPU maps the
  rotated square's corners onto the output's corners with OpenCV, where integer coordinates are
  pixel centres): `center` is in that convention, as MediaPipe's normalised coordinates times the
  image size are. A half-pixel difference here changed a pose detector's score from 0.43 to 0.62."""
  step = side / size
  cos, sin = math.cos(angle), math.sin(angle)
  shift = -0.5 * step  # output pixel i samples corner + i * step, not corner + (i + 0.5) * step
  moved = (center[0] + 0.5 + cos * shift - sin * shift, center[1] + 0.5 + sin * shift + cos * shift)
  return crop(pixels, moved, side, angle, size, size, replicate_border)
