"""Small float16 models and bundles that the tests make themselves (Keras -> TFLite)."""

import functools
import io
import zipfile

import flatbuffers
import numpy as np
from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_schema

from mediapipe_int8 import bundle, calibrate, pipeline, prepare, tflite_file


@functools.lru_cache(maxsize=None)
def image_model(signature: bool = True, metadata: bool = True, size: int = 32) -> bytes:
  """conv + depthwise + PReLU + dense on a size x size RGB image, weights stored as float16."""
  import tensorflow as tf

  # Keras numbers layer names per process: start afresh, so the names (which error messages
  # quote) do not depend on what the process built before.
  tf.keras.backend.clear_session()
  tf.keras.utils.set_random_seed(7)
  image = tf.keras.Input((size, size, 3), batch_size=1, name="image")
  x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(image)
  x = tf.keras.layers.DepthwiseConv2D(3, padding="same")(x)
  x = tf.keras.layers.PReLU(shared_axes=[1, 2])(x)
  x = tf.keras.layers.GlobalAveragePooling2D()(x)
  scores = tf.keras.layers.Dense(4, name="scores")(x)
  converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(image, scores))
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.target_spec.supported_types = [tf.float16]
  model = tflite_file.parse(converter.convert(), "synthetic")
  if not signature:
    model.signatureDefs = None
  if metadata:
    _add_metadata(model, b"TFLITE_METADATA", image_metadata(mean=127.5, std=127.5))
  return tflite_file.serialize(model)


def linear_conv_model(size: int = 16) -> bytes:
  """conv then depthwise conv, no activation and no padding, on a size x size RGB image, weights
  stored as float16: each output's mean is a linear function of the input's mean."""
  import tensorflow as tf

  tf.keras.backend.clear_session()
  tf.keras.utils.set_random_seed(11)
  image = tf.keras.Input((size, size, 3), batch_size=1, name="image")
  x = tf.keras.layers.Conv2D(8, 3, padding="valid", bias_initializer="glorot_uniform")(image)
  x = tf.keras.layers.DepthwiseConv2D(3, padding="valid", bias_initializer="glorot_uniform")(x)
  converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(image, x))
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.target_spec.supported_types = [tf.float16]
  return converter.convert()


@functools.lru_cache(maxsize=None)
def dead_channel_model(size: int = 32) -> bytes:
  """conv on a size x size RGB image whose channels 1 and 3 have all-zero weights and biases
  +2 and -3 (their output is the bias alone: the ReLU keeps +2 and cuts -3). Float32 weights."""
  import tensorflow as tf

  # Keras numbers layer names per process: start afresh, so the names (which error messages
  # quote) do not depend on what the process built before.
  tf.keras.backend.clear_session()
  tf.keras.utils.set_random_seed(7)
  image = tf.keras.Input((size, size, 3), batch_size=1, name="image")
  conv = tf.keras.layers.Conv2D(4, 3, padding="same", name="features")
  out = tf.keras.layers.ReLU()(conv(image))
  kernel, bias = conv.get_weights()
  kernel[..., [1, 3]] = 0.0
  bias[:] = [0.1, 2.0, -0.2, -3.0]
  conv.set_weights([kernel, bias])
  converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(image, out))
  model = tflite_file.parse(converter.convert(), "synthetic")
  _add_metadata(model, b"TFLITE_METADATA", image_metadata(mean=127.5, std=127.5))
  return tflite_file.serialize(model)


@functools.lru_cache(maxsize=None)
def points_model() -> bytes:
  """A dense model over 10 x 2 points (not an image), weights stored as float16."""
  import tensorflow as tf

  # Keras numbers layer names per process: start afresh, so the names (which error messages
  # quote) do not depend on what the process built before.
  tf.keras.backend.clear_session()
  tf.keras.utils.set_random_seed(8)
  points = tf.keras.Input((10, 2), batch_size=1, name="points")
  x = tf.keras.layers.Flatten()(points)
  x = tf.keras.layers.Dense(16, activation="relu")(x)
  out = tf.keras.layers.Dense(3, activation="sigmoid")(x)
  converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(points, out))
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.target_spec.supported_types = [tf.float16]
  return bytes(converter.convert())


def image_metadata(mean: float, std: float) -> bytes:
  """A TFLITE_METADATA flatbuffer with one image input and its normalisation."""
  normalization = metadata_schema.NormalizationOptionsT()
  normalization.mean, normalization.std = [mean], [std]
  unit = metadata_schema.ProcessUnitT()
  unit.optionsType = metadata_schema.ProcessUnitOptions.NormalizationOptions
  unit.options = normalization
  tensor = metadata_schema.TensorMetadataT()
  tensor.name = "image"
  tensor.processUnits = [unit]
  subgraph = metadata_schema.SubGraphMetadataT()
  subgraph.inputTensorMetadata = [tensor]
  root = metadata_schema.ModelMetadataT()
  root.name = "synthetic"
  root.subgraphMetadata = [subgraph]
  builder = flatbuffers.Builder(0)
  builder.Finish(root.Pack(builder), file_identifier=b"M001")
  return bytes(builder.Output())


def _add_metadata(model, name: bytes, data: bytes) -> None:
  from ai_edge_litert import schema_py_generated as schema

  buffer = schema.BufferT()
  buffer.data = np.frombuffer(data, np.uint8).copy()
  model.buffers.append(buffer)
  entry = schema.MetadataT()
  entry.name = name
  entry.buffer = len(model.buffers) - 1
  model.metadata = (model.metadata or []) + [entry]


def random_samples(data: bytes, name: str = "a.tflite"):
  """(The prepared model, its calibrate.Samples from 8 seeded random inputs), as the pipeline
  makes them for a model given --random_calibration."""
  prepared = prepare.prepare(tflite_file.parse(data, name))
  info = pipeline.model_info(name, prepared)
  samples = calibrate.make_samples({name: info}, {name}, None, [], 8, {name}, name)[name]
  return prepared, samples


DATA_ENTRY = ("pipeline.binarypb", bytes(range(256)) * 3)


def bundle_of(models: dict[str, bytes], data_entry=DATA_ENTRY) -> bytes:
  entries = [bundle.Entry(n, d) for n, d in models.items()]
  if data_entry:
    entries.insert(1, bundle.Entry(*data_entry))
  return bundle.write_entries(entries)


def deflated_zip(entries: dict[str, bytes]) -> bytes:
  out = io.BytesIO()
  with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
    for name, data in entries.items():
      archive.writestr(name, data)
  return out.getvalue()
