"""The landmarker bundles that the quantizer treats as cascades: face, hand and pose.

A kind says which entries make the cascade, how the landmarks model's crop is framed (around the
landmarks for faces and hands, from the detector's keypoints for poses), which detector outputs
may be clamped without changing MediaPipe's answer, and how landmark error is normalised (NME:
mean landmark distance over the distance between two landmarks, or two landmarks' midpoints).
"""

import dataclasses
import math

from mediapipe_int8 import tflite_file

from mediapipe_int8.detector_roi import SsdDetector

# MediaPipe's face_blendshapes_graph: the 146 of the 478 landmarks the blendshapes model reads.
BLENDSHAPE_LANDMARKS = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63,
    65, 66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133,
    136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163,
    168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270,
    276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317,
    318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379,
    380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477)


@dataclasses.dataclass(frozen=True)
class Kind:
  noun: str  # what it finds: "face", "hand" or "pose"
  detector: str
  landmarks: str
  blendshapes: str | None
  num_landmarks: int
  # NME divides by the distance between the mean points of these two groups of landmarks.
  scale_points: tuple[tuple[int, ...], tuple[int, ...]]
  scale_name: str
  # Detector output ranges that cost MediaPipe nothing (values beyond are never used), by tensor name.
  detector_clamps: dict[str, tuple[float, float]]
  # Crop framing, as MediaPipe frames it: a square `crop_scale` times the longer side of
  # `crop_points`' box (taken along the image's axes, or along the crop's rotated axes where
  # `box_in_crop_frame`), moved by `crop_shift` box sides along the crop's y axis, and rotated so
  # that the line from axis_points[0] to axis_points[1] makes `axis_angle` rad with its x axis.
  crop_points: tuple[int, ...] | None  # None: all landmarks
  box_in_crop_frame: bool
  crop_scale: float
  crop_shift: float
  axis_points: tuple[int, int]
  axis_angle: float
  # Where set, the crop is framed from the detector's keypoints instead (MediaPipe's pose graph),
  # and the landmark fields above are unused.
  detector_framing: SsdDetector | None = None
  # Values per landmark in the landmarks model's first output (x, y, z and, for poses,
  # visibility and presence logits).
  values_per_landmark: int = 3
  # Ops of the landmarks model (output tensor names) that every recipe leaves in float.
  unquantized_landmark_ops: tuple[str, ...] = ()
  # Whether integer recipes take the mean shift of the detector's int8 weights out of its biases
  # (bias_correction.py). Measured on pose only; face and hand detectors are quantized without it.
  detector_bias_correction: bool = False

  @property
  def entries(self) -> tuple[str, ...]:
    return (self.detector, self.landmarks) + ((self.blendshapes,) if self.blendshapes else ())


FACE = Kind(
    noun="face",
    detector="face_detector.tflite",
    landmarks="face_landmarks_detector.tflite",
    blendshapes="face_blendshapes.tflite",
    num_landmarks=478,
    scale_points=((33,), (263,)),
    scale_name="outer-eye distance",
    # MediaPipe reads score logits through a sigmoid with a 0.5 threshold (beyond +-20 the score is
    # within 2e-9 of 0 or 1), and box and keypoint offsets of real faces stay within 128 px of the
    # 128 px input (measured max 127.9 on 40 photos), so 160 leaves a margin. Without clamps,
    # background anchors stretch the ranges to -27,000 and every face score rounds to 0 in int8;
    # +-100 still lost a face that +-20 keeps.
    detector_clamps={"classificators": (-20.0, 20.0), "regressors": (-160.0, 160.0)},
    # At 1.4 times the landmarks' box, eyes level, the float landmarks model reproduces MediaPipe's
    # landmarks on the astronaut within 0.30 px mean (1.3: 0.34, 1.5: 0.35, 1.2: 0.66, 1.7: 0.50).
    crop_points=None,
    box_in_crop_frame=False,
    crop_scale=1.4,
    crop_shift=0.0,
    axis_points=(33, 263),
    axis_angle=0.0,
)

HAND = Kind(
    noun="hand",
    detector="hand_detector.tflite",
    landmarks="hand_landmarks_detector.tflite",
    blendshapes=None,
    num_landmarks=21,
    scale_points=((0,), (9,)),
    scale_name="palm length (wrist to middle-finger knuckle)",
    # Identity_1 holds the palm score logits, Identity the box and keypoint offsets. Anchors that
    # score above 0.5 on 12 hand photos and 5 windows of each reach 124.5 px on the 192 px input.
    detector_clamps={"Identity_1": (-20.0, 20.0), "Identity": (-160.0, 160.0)},
    # Framed on the palm (wrist, thumb base, knuckles), fingers up: at 2.6 times that box moved 0.1
    # towards the fingers, the float landmarks model reproduces MediaPipe's landmarks within 2.4% of
    # the palm length (median of 12 photos; 2.0: 5.7%, 2.4: 2.9%, 2.8: 2.6%; unmoved 3.3%).
    crop_points=(0, 1, 2, 5, 9, 13, 17),
    box_in_crop_frame=True,
    crop_scale=2.6,
    crop_shift=-0.1,
    axis_points=(0, 9),
    axis_angle=-math.pi / 2,
)

POSE = Kind(
    noun="pose",
    detector="pose_detector.tflite",
    landmarks="pose_landmarks_detector.tflite",
    blendshapes=None,
    num_landmarks=33,
    scale_points=((11, 12), (23, 24)),
    scale_name="torso length (shoulder midpoint to hip midpoint)",
    # Identity_1 holds the person score logits, Identity the box and keypoint offsets (224 px
    # input). On the 7 pose photos and 4 windows of each, anchors that score above 0.5 reach
    # 187.4 px (the full-body circle's keypoint lies far from its anchor); background anchors
    # reach 819 px and score logits -557.
    detector_clamps={"Identity_1": (-20.0, 20.0), "Identity": (-256.0, 256.0)},
    crop_points=None,
    box_in_crop_frame=False,
    crop_scale=1.25,
    crop_shift=0.0,
    axis_points=(0, 1),
    axis_angle=-math.pi / 2,
    # MediaPipe's pose_detector_graph: SSD anchors on strides 8, 16, 32, 32, 32 of the 224 px
    # input, 4 keypoints, scores above 0.5, weighted NMS; the crop is centred on keypoint 0 (hip
    # midpoint), 1.25 x the circle through keypoint 1 (the whole body), that line pointing up.
    detector_framing=SsdDetector(input_size=224, strides=(8, 16, 32, 32, 32), num_keypoints=4,
                                 min_score=0.5, nms_iou=0.5, center_point=0, scale_point=1,
                                 crop_scale=1.25),
    values_per_landmark=5,
    # pose_landmarker_full's last trunk conv (288 -> 288, 1x1) before the heads. With its int8
    # weights alone, the pose presence score on the crops of three held-out upper-body photos
    # falls from 0.99/0.98/0.99 (float) to 0.47/0.52/0.65 (weight-only int8, every op) and the
    # landmarker loses those people; left in float (+250 KB) it stays 0.97/0.98/0.99. No other
    # single op of the last 18 moves it by more than 0.07. Other pose models name it otherwise.
    unquantized_landmark_ops=(
        "model_1/model/batch_normalization_78/FusedBatchNormV3;model_1/model/conv2d_46/Conv2D1",),
    # The int8 detector lowers person scores: on the best anchors of five held-out people by 0.22
    # logits on average, 0.56 on the cameraman (float: 0.48, just over MediaPipe's threshold 0),
    # who is then lost. Its int8 weights do that (float computation with int8 weights: 0.30 and
    # 0.68), spread over the whole network: no single op's weights in float fix it.
    # With bias correction: 0.14 and 0.28, and every held-out person is kept.
    detector_bias_correction=True,
)

KINDS = (FACE, HAND, POSE)


def unquantized_ops(entry_name: str, model) -> frozenset[str]:
  """Ops (by output tensor name) of `model`, the bundle entry `entry_name`, that every recipe
  leaves in float: a landmarks model's known sensitive ops, and a blendshapes model's input
  normalisation.

  The face blendshapes model first centres and scales its 146 landmarks (MEAN, SUB, MUL, SUM,
  SQRT, MEAN, DIV, RESHAPE, STRIDED_SLICE, MUL, TRANSPOSE: about no MACs). In int8 its input
  covers 0 to 608 px in 2.4 px steps; in float those ops hand the first conv unit-scale values,
  and int8 starts there.
  """
  names = {op for kind in KINDS if kind.landmarks == entry_name
           for op in kind.unquantized_landmark_ops}
  if any(kind.blendshapes == entry_name for kind in KINDS):
    names |= _before_first_conv(model)
  return frozenset(names)


def _before_first_conv(model) -> set[str]:
  graph = model.subgraphs[0]
  out = set()
  for op in graph.operators:
    if tflite_file.op_name(tflite_file.builtin_code(model, op)) in ("CONV_2D", "FULLY_CONNECTED"):
      return out
    out.add(";".join(graph.tensors[i].name.decode() for i in op.outputs))
  return set()  # no conv: nothing to start int8 at


# MediaPipe's model families, by the prefix of an entry's name.
_FAMILIES = ("face_", "hand_", "pose_")


def is_holistic(names) -> bool:
  """Whether entry `names` look like MediaPipe's holistic_landmarker.task: a name with "holistic",
  or pose models with face or hand models. Its face and hand models see crops framed from the
  pose model's landmarks, a cascade this tool does not make."""
  names = {n.rpartition("/")[2] for n in names}
  if any("holistic" in n.lower() for n in names):
    return True
  families = {f for f in _FAMILIES for n in names if n.startswith(f) and n.endswith(".tflite")}
  return "pose_" in families and len(families) >= 2


def kind_of(names) -> Kind | None:
  """The kind of landmarker whose detector and landmarks models are among `names`, if any; never
  for a holistic bundle, which holds face and hand models in another cascade."""
  names = set(names)
  if is_holistic(names):
    return None
  for kind in KINDS:
    if kind.detector in names and kind.landmarks in names:
      return kind
  return None


def detector_named(name: str) -> Kind | None:
  """The kind whose detector model has this file name (a path's last part), if any."""
  name = name.rpartition("/")[2]
  return next((kind for kind in KINDS if kind.detector == name), None)
