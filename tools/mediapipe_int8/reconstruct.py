"""Learned int8: trains a model's int8 weights and activation ranges against its float self.

Full int8 of the face landmarks model misses float by 3x its one-pixel jitter although every
tensor's range is fine alone: rounding error compounds with depth, and most of it is a
structural offset that training can take out. This stage sits between calibration and
quantization. It simulates the int8 model as ai-edge-quantizer will write it (tf_graph.py) and
trains, by distillation against the float model on unlabeled crops (no labels: the float model's
own outputs are the targets):

- weights and biases, straight through the rounding, in units of each channel's int8 step;
- activation ranges (LSQ-style), in units of each range's calibrated width.

The loss is the outputs' squared error plus, as in block reconstruction (BRECQ, QDrop), each
residual block's output (every ADD) against float's, in units of that tensor's float variance:
where the error compounds, the blocks get a signal of their own instead of only what reaches the
outputs. On held-out people's crops after 150 steps it takes learned int8 from 2.73% to 2.36% NME
(learned_crops, docs/results.md); three times the weight, or a third, was worse.

With `int8_activations` off it is learned rounding for weight-only int8 (the engine's
weight_only_int8: int8 weights, float computation): the same training with the activations left
float, so only the weights' int8 values and the float biases move.

It hands the result back to the engine, which still writes the file: every weight snapped to
q * scale with scale = max|w| / 127 per channel (the engine then recomputes the same integers), and
the trained ranges as the engine's fixed ranges (QSVs).

Deterministic (the same inputs write the same bytes, in one process and across processes):
- the batches and their augmentations come from one seeded generator, drawn in a fixed order;
- TensorFlow runs deterministically (tf_graph.deterministic: one thread, op determinism, no
  oneDNN);
- each training is self-contained: its own variables, its own Adam state (written out here, not
  Keras's, whose formula and naming depend on which Keras `tf.keras` resolves to) and its own
  step function, traced once for a fixed batch shape (no retracing to a more general graph
  halfway), so nothing carries over from an earlier training in the same process;
- every dict and list is filled in a fixed order (tensor index, op order); no set is walked.
"""

import dataclasses
import time

import numpy as np

from mediapipe_int8 import bias_correction, runner, tf_graph, tflite_file

tf = tf_graph.tf

SEED = 20261202
DEFAULT_BATCH = 8
# int8 steps of the channel per Adam step. On held-out people's crops after 150 steps (128 crops,
# block loss): 0.05 3.01%, 0.02 2.38%, 0.01 2.16%, 0.005 2.29% NME; decaying linearly to 0 from
# 0.02: 2.36%, from 0.01: 2.30%.
WEIGHT_LEARNING_RATE = 0.01
RANGE_LEARNING_RATE = 0.002  # calibrated range widths per Adam step
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7  # Keras's defaults, which were used before
BLOCK_WEIGHT = 1.0  # the block outputs' loss against the outputs' (measured above)


@dataclasses.dataclass(frozen=True)
class Options:
  steps: int = 0
  batch: int = DEFAULT_BATCH
  seed: int = SEED
  block_weight: float = BLOCK_WEIGHT  # 0: the outputs' loss alone
  # What is trained and on what: each can be switched off to measure what it buys (the benchmark's
  # --ablation). Without augmentation the crops are trained on as calibration made them.
  learn_weights: bool = True
  learn_ranges: bool = True
  augment: bool = True
  # False: weight-only int8 (the engine's weight_only_int8): activations stay float, so only the
  # weights' rounding (and the float biases) are learned.
  int8_activations: bool = True


@dataclasses.dataclass
class Result:
  model: bytes  # the float model with trained, snapped weights
  qsvs: dict  # trained ranges, as ai-edge-quantizer takes them
  report: dict


def supports(model) -> bool:
  try:
    tf_graph.Graph(model)
  except tf_graph.Unsupported:
    return False
  return True


def reconstruct(float_model: bytes, model, qsvs: dict, samples: list[list[np.ndarray]],
                options: Options) -> Result:
  """Trains on `samples` (calibration inputs, one array per model input) for options.steps steps.

  `model` is the parsed `float_model` (the graph the engine will quantize); `qsvs` its calibrated
  ranges.
  """
  tf_graph.deterministic()
  started = time.monotonic()
  graph = tf_graph.Graph(model)
  inputs = np.concatenate([s[0] for s in samples]).astype(np.float32)
  trainer = _Trainer(graph, tf_graph.ranges_from_qsvs(graph, qsvs), _output_scales(float_model, inputs),
                     (options.batch,) + inputs.shape[1:], options)
  rng = np.random.default_rng(options.seed)
  order = np.zeros(0, np.int64)
  losses = []
  for _ in range(options.steps):
    while len(order) < options.batch:  # every batch the same shape, even from few samples
      order = np.concatenate([order, rng.permutation(len(inputs))])
    batch, order = order[:options.batch], order[options.batch:]
    images = augment(inputs[batch], rng) if options.augment else inputs[batch]
    losses.append(float(trainer.step(tf.constant(images))))
  data = _snapped_model(tflite_file.parse(float_model, "reconstruct"), graph, trainer)
  learned = _learned_qsvs(qsvs, graph, trainer)
  report = {"steps": options.steps, "batch": options.batch, "training_samples": len(inputs),
            "block_weight": options.block_weight, "learn_weights": options.learn_weights,
            "learn_ranges": options.learn_ranges, "augment": options.augment,
            "int8_activations": options.int8_activations,
            "seconds": round(time.monotonic() - started, 1),
            "loss_first": losses[0] if losses else None,
            "loss_last_10": float(np.mean(losses[-10:])) if losses else None}
  return Result(data, learned, report)


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Photometric and mirror variants of [0, 1] NHWC crops, drawn from `rng`: brightness and
  contrast, sometimes gray, sometimes blurred (a low-resolution face upscaled), sometimes
  mirrored. The targets are the float model's answers on the same variants, so any variant is
  a valid training input."""
  out = []
  for image in images:
    x = image
    if rng.uniform() < 0.5:
      x = x[:, ::-1]
    if rng.uniform() < 0.3:
      x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
    if rng.uniform() < 0.3:
      factor = int(rng.integers(2, 5))
      h, w = x.shape[:2]
      small = x[:h - h % factor, :w - w % factor].reshape(h // factor, factor, w // factor, factor, -1)
      x = np.repeat(np.repeat(small.mean(axis=(1, 3)), factor, 0), factor, 1)
      x = np.pad(x, ((0, h - x.shape[0]), (0, w - x.shape[1]), (0, 0)), mode="edge")
    contrast, brightness = rng.uniform(0.7, 1.3), rng.uniform(-0.15, 0.15)
    x = (x - 0.5) * contrast + 0.5 + brightness
    out.append(np.clip(x, 0.0, 1.0))
  return np.stack(out).astype(np.float32)


def _output_scales(float_model: bytes, inputs: np.ndarray) -> list[float]:
  """Per output, the standard deviation of its values over the training inputs: the loss pools
  every output element, each in units of its output's spread (pixels, logits), so that a
  one-element output (the face score) weighs as one element of 1436, not as much as 1434
  landmark coordinates together."""
  model = runner.Model(float_model)
  outputs = [model(x[np.newaxis]) for x in inputs]
  return [max(float(np.std(np.stack([o[k] for o in outputs]))), 1e-6) for k in range(len(outputs[0]))]


class _Trainer:
  """The trained variables and one Adam step of distillation against the float graph."""

  def __init__(self, graph: tf_graph.Graph, ranges: dict[int, tuple[float, float]],
               output_scales: list[float], batch_shape: tuple[int, ...], options: Options):
    self.graph = graph
    self.block_weight = np.float32(options.block_weight)
    self.int8_activations = options.int8_activations
    self.blocks = [op.output for op in graph.ops if op.code == tf_graph.RESIDUAL_OP]
    self.base, self.unit, self.delta = {}, {}, {}
    for index, axis in sorted(graph.weights.items()):
      w = graph.constants[index]
      self.base[index] = w
      self.unit[index] = tf_graph.weight_scale(tf.constant(w), axis).numpy()
    for op in graph.ops:
      if op.code in tf_graph.WEIGHT_OPS and len(op.inputs) > 2 and op.inputs[2] >= 0:
        low, high = ranges[op.output]
        self.base[op.inputs[2]] = graph.constants[op.inputs[2]]
        self.unit[op.inputs[2]] = np.float32(max(high - low, 1e-9) / 255.0)
    for index in sorted(self.base):
      self.delta[index] = tf.Variable(np.zeros_like(self.base[index]), name=f"d{index}")
    self.range_base = {i: np.float32(r) for i, r in ranges.items()}
    self.range_width = {i: np.float32(max(r[1] - r[0], 1e-9)) for i, r in ranges.items()}
    self.range_delta = {i: tf.Variable(np.zeros(2, np.float32), name=f"r{i}") for i in sorted(ranges)}
    sizes = [int(np.prod(graph.shapes[i][1:])) for i in graph.outputs]
    self.output_weights = [np.float32(1.0 / (s ** 2 * sum(sizes))) for s in output_scales]
    self.weight_optimizer = _Adam([self.delta[i] for i in sorted(self.delta)], WEIGHT_LEARNING_RATE)
    self.range_optimizer = _Adam([self.range_delta[i] for i in sorted(self.range_delta)],
                                 RANGE_LEARNING_RATE)
    self.optimizers = ([self.weight_optimizer] if options.learn_weights else []) + (
        [self.range_optimizer] if options.learn_ranges and options.int8_activations else [])
    # One trace, for the one batch shape; plain graph code, nothing for AutoGraph to convert.
    self.step = tf.function(self._step, input_signature=[tf.TensorSpec(batch_shape, tf.float32)],
                            autograph=False)

  def params(self) -> dict:
    return {i: self.base[i] + self.delta[i] * self.unit[i] for i in self.base}

  def ranges(self) -> dict:
    return {i: (self.range_base[i][0] + self.range_delta[i][0] * self.range_width[i],
                self.range_base[i][1] + self.range_delta[i][1] * self.range_width[i])
            for i in self.range_base}

  def _step(self, images):
    float_values = self.graph.values([images])
    targets = [float_values[i] for i in self.graph.outputs]
    with tf.GradientTape() as tape:
      values = self.graph.values([images], self.params(),
                                 self.ranges() if self.int8_activations else None, int8_weights=True)
      outputs = [values[i] for i in self.graph.outputs]
      batch = tf.cast(tf.shape(images)[0], tf.float32)
      loss = tf.add_n([tf.reduce_sum(tf.square(o - tf.stop_gradient(t))) * w / batch
                       for o, t, w in zip(outputs, targets, self.output_weights)])
      if self.block_weight > 0 and self.blocks:
        loss += self.block_weight * tf.add_n([_relative_error(values[i], float_values[i])
                                              for i in self.blocks]) / len(self.blocks)
    gradients = tape.gradient(loss, [v for o in self.optimizers for v in o.variables])
    for optimizer in self.optimizers:
      optimizer.apply(gradients[:len(optimizer.variables)])
      gradients = gradients[len(optimizer.variables):]
    return loss


def _relative_error(value, target):
  """Mean squared error over the float target's variance (both over the batch)."""
  target = tf.stop_gradient(target)
  variance = tf.reduce_mean(tf.square(target - tf.reduce_mean(target)))
  return tf.reduce_mean(tf.square(value - target)) / (variance + 1e-12)


class _Adam:
  """Adam over a fixed list of variables, as Keras 3 computes it (bias-corrected step size,
  epsilon outside the square root); its state belongs to this instance alone."""

  def __init__(self, variables: list, learning_rate: float):
    self.variables = variables
    self.learning_rate = learning_rate
    self.iterations = tf.Variable(0.0, trainable=False)
    self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

  def apply(self, gradients: list) -> None:
    step = self.iterations.assign_add(1.0)
    alpha = (self.learning_rate * tf.sqrt(1.0 - tf.pow(ADAM_BETA_2, step))
             / (1.0 - tf.pow(ADAM_BETA_1, step)))
    for variable, g, m, v in zip(self.variables, gradients, self.m, self.v, strict=True):
      m.assign_add((g - m) * (1.0 - ADAM_BETA_1))
      v.assign_add((tf.square(g) - v) * (1.0 - ADAM_BETA_2))
      variable.assign_sub(alpha * m / (tf.sqrt(v) + ADAM_EPSILON))


def _snapped_model(model, graph: tf_graph.Graph, trainer: _Trainer) -> bytes:
  """The float model with the trained weights snapped to the int8 grid and the trained biases."""
  params = {i: v.numpy() for i, v in trainer.params().items()}
  tensors = model.subgraphs[0].tensors
  for index, values in params.items():
    if index in graph.weights:  # q * scale: the engine computes the same scale and q again
      values = bias_correction.int8_weights(values, graph.weights[index])
    model.buffers[tensors[index].buffer].data = np.frombuffer(
        values.astype(np.float32).tobytes(), np.uint8).copy()
  return tflite_file.serialize(model)


def _learned_qsvs(qsvs: dict, graph: tf_graph.Graph, trainer: _Trainer) -> dict:
  """The calibrated QSVs with every trained range in place (including 0, as the engine does)."""
  out = {name: dict(value) for name, value in qsvs.items()}
  for index, (low, high) in trainer.ranges().items():
    name = graph.names[index]
    shape = np.shape(qsvs[name]["min"])
    out[name] = {"min": np.full(shape, min(float(low), 0.0), np.float32),
                 "max": np.full(shape, max(float(high), 0.0), np.float32)}
  for op in graph.ops:  # ops that take their input's quantization: say so in their QSVs too
    if op.code in tf_graph.SAME_AS_INPUT and graph.names[op.output] in out:
      out[graph.names[op.output]] = out[graph.names[op.inputs[0]]]
  return out
