"""Where a detector-framed cascade's landmarks model looks: detections -> keypoints -> rotated crop.

MediaPipe's pose landmarker frames each person from its detector alone (IMAGE mode): the SSD
detector's boxes and keypoints are decoded against fixed anchors, overlapping ones merged
(weighted non-maximum suppression), and the crop is a square centred on one keypoint, its side a
multiple of the distance to a second keypoint, rotated so that the line between the two points
points up. This module does the same on the float detector, so that calibration crops are the
crops MediaPipe feeds the landmarks model. It knows nothing of quantization.
"""

import dataclasses
import math

import numpy as np

from mediapipe_int8 import image_input


@dataclasses.dataclass(frozen=True)
class SsdDetector:
  """The anchors and decoding of an SSD detector with keypoints (MediaPipe's
  SsdAnchorsCalculator and TensorsToDetectionsCalculator options), and the crop it frames."""
  input_size: int
  strides: tuple[int, ...]  # one per anchor layer; layers of equal stride share a grid
  num_keypoints: int
  min_score: float  # after the sigmoid
  nms_iou: float  # detections overlapping more than this are merged into the best one
  # Crop: centred on keypoint `center_point`, side `crop_scale` x 2 x its distance to `scale_point`,
  # rotated so that the line center -> scale point points up.
  center_point: int
  scale_point: int
  crop_scale: float


@dataclasses.dataclass(frozen=True)
class Detection:
  score: float
  box: np.ndarray  # x_min, y_min, x_max, y_max in image pixels
  keypoints: np.ndarray  # num_keypoints x 2, image pixels


@dataclasses.dataclass(frozen=True)
class Roi:
  """A rotated square of the image: the landmarks model's crop."""
  center: tuple[float, float]  # image pixels
  side: float  # image pixels
  angle: float  # rad; the crop's x axis runs along (cos, sin) in the image (y down)


def anchors(spec: SsdDetector) -> np.ndarray:
  """Anchor centres, N x 2, normalised to the input (fixed-size anchors: each is 1 x 1). Each grid
  cell has two anchors per layer of its stride, in row-major order."""
  out = []
  layer = 0
  while layer < len(spec.strides):
    stride = spec.strides[layer]
    same = 1
    while layer + same < len(spec.strides) and spec.strides[layer + same] == stride:
      same += 1
    cells = math.ceil(spec.input_size / stride)
    ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
    grid = np.stack([xs.ravel(), ys.ravel()], 1)
    out.append(np.repeat(grid, 2 * same, axis=0))
    layer += same
  return np.concatenate(out).astype(np.float64)


def decode(spec: SsdDetector, regressors: np.ndarray, scores: np.ndarray) -> list[Detection]:
  """Raw outputs (1 x N x (4 + 2K), 1 x N x 1) -> detections normalised to the detector input,
  boxes and keypoints as (x, y) pairs, above the score threshold, after weighted NMS."""
  centres = anchors(spec)
  raw = regressors.reshape(len(centres), -1).astype(np.float64) / spec.input_size
  logits = np.clip(scores.reshape(-1).astype(np.float64), -100.0, 100.0)
  probability = 1.0 / (1.0 + np.exp(-logits))
  keep = np.nonzero(probability >= spec.min_score)[0]
  middle = raw[keep, 0:2] + centres[keep]
  half = raw[keep, 2:4] / 2
  boxes = np.concatenate([middle - half, middle + half], 1)
  points = raw[keep, 4:4 + 2 * spec.num_keypoints].reshape(len(keep), spec.num_keypoints, 2) + centres[keep, None]
  return _weighted_nms(spec, probability[keep], boxes, points)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
  low = np.maximum(box[:2], others[:, :2])
  high = np.minimum(box[2:], others[:, 2:])
  inter = np.prod(np.clip(high - low, 0, None), axis=1)
  area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)
  union = area(box) + area(others) - inter
  return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _weighted_nms(spec, probability, boxes, points) -> list[Detection]:
  """The best remaining detection absorbs all that overlap it; its box and keypoints become their
  score-weighted mean, its score stays its own."""
  order = list(np.argsort(-probability, kind="stable"))
  out = []
  while order:
    best = order[0]
    overlap = _iou(boxes[best], boxes[order]) > spec.nms_iou
    group = [i for i, o in zip(order, overlap) if o]
    weights = probability[group][:, None]
    box = (boxes[group] * weights).sum(0) / weights.sum()
    keypoints = (points[group] * weights[:, :, None]).sum(0) / weights.sum()
    out.append(Detection(float(probability[best]), box, keypoints))
    order = [i for i, o in zip(order, overlap) if not o]
  return out


def detect(spec: SsdDetector, model, image: image_input.ImageInput, pixels: np.ndarray,
           max_count: int) -> list[Detection]:
  """The float detector (a runner.Model) on the whole photo, which MediaPipe pads with black to a
  square around its centre: detections in image pixels (MediaPipe's convention: normalised
  coordinates times the image size), best first."""
  h, w = pixels.shape[:2]
  side = float(max(w, h))
  square = image_input.crop_as_mediapipe(pixels, (w / 2, h / 2), side, 0.0, spec.input_size,
                                         replicate_border=False)
  regressors, scores = model(image.normalize(square))[:2]
  out = []
  offset = np.float64([(w - side) / 2, (h - side) / 2])
  for d in decode(spec, regressors, scores)[:max_count]:
    box = np.concatenate([d.box[:2] * side + offset, d.box[2:] * side + offset])
    out.append(Detection(d.score, box, d.keypoints * side + offset))
  return out


def roi(spec: SsdDetector, detection: Detection) -> Roi:
  """The landmarks model's crop for one detection, as MediaPipe's AlignmentPointsRects and
  RectTransformation calculators frame it."""
  center = detection.keypoints[spec.center_point]
  axis = detection.keypoints[spec.scale_point] - center
  side = 2.0 * float(np.linalg.norm(axis)) * spec.crop_scale
  angle = math.atan2(float(axis[1]), float(axis[0])) + math.pi / 2  # that line points up in the crop
  return Roi((float(center[0]), float(center[1])), side, angle)
