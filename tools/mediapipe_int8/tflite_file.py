"""Parses and serializes .tflite flatbuffers as mutable ModelT objects.

Buffers that a writer placed after the flatbuffer (offset/size fields) are
moved back inline: MediaPipe reads TFLITE_METADATA only from inline data, and
a re-pack that ignores offsets silently loses every such weight.

TFLite metadata's associated files (labels.txt and the like) are a zip archive
appended to the file, outside the flatbuffer: `with_associated_files` carries
them on to a rewritten model (MediaPipe's GestureRecognizer refuses a classifier
without its labels.txt).

A model is packed with each distinct array written once (`_SharingBuilder`): a flatbuffer may
point many tables at one vector. It matters for int8: every per-channel scale comes with a
zero-point vector of int64 zeros, 8 bytes per channel, which were 9% of the int8 face bundle.
"""

import io
import zipfile

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

from mediapipe_int8.errors import UserError

_IDENTIFIER = b"TFL3"


def is_tflite(data: bytes) -> bool:
  return len(data) >= 8 and data[4:8] == _IDENTIFIER


def parse(data: bytes, source: str) -> schema.ModelT:
  """Returns the model in `data`, with every buffer inline; UserError if it can't be read.

  Models from outside (the user's) go through `validate.model` instead, which checks them too.
  """
  model = read(data, source)
  inline_external_buffers(model, data)
  return model


def read(data: bytes, source: str) -> schema.ModelT:
  """The flatbuffer in `data` as objects, buffers as stored (offsets not yet resolved)."""
  if not is_tflite(data):
    raise UserError(f"{source}: not a TFLite model (no TFL3 identifier)")
  try:
    return flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
  except Exception as e:  # flatbuffers raises whatever the bad offsets lead to
    raise UserError(f"{source}: corrupt or truncated TFLite model ({type(e).__name__})") from None


def constant_values(model: schema.ModelT, tensor: schema.TensorT, dtype) -> np.ndarray | None:
  """A constant tensor's values, flat, as `dtype`; None for a tensor without data (an activation)."""
  data = model.buffers[tensor.buffer].data
  if data is None or len(data) == 0:
    return None
  return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype)


def is_constant(model: schema.ModelT, tensor: schema.TensorT) -> bool:
  data = model.buffers[tensor.buffer].data
  return data is not None and len(data) > 0


def with_associated_files(model: bytes, source: bytes) -> bytes:
  """`model` with the associated files of `source` (the zip archive that TFLite metadata's writer
  appends after the flatbuffer) appended the same way: a new archive of the same entries, whose
  offsets count from the start of the file. The old archive can't simply be copied: its offsets
  count from where it was, and MediaPipe's zip reader refuses an archive that starts earlier than
  its offsets say, as it does after a model shrinks."""
  try:
    archive = zipfile.ZipFile(io.BytesIO(source))
    entries = [(info, archive.read(info)) for info in archive.infolist()]
  except (zipfile.BadZipFile, OSError, ValueError):
    return model
  out = io.BytesIO(model)
  out.seek(0, io.SEEK_END)
  with zipfile.ZipFile(out, "a") as appended:
    for info, data in entries:
      appended.writestr(info, data)
  return out.getvalue()


def inline_external_buffers(model: schema.ModelT, data: bytes) -> None:
  """Moves buffers stored after the flatbuffer (offset > 1, as TFLite reads them) inline."""
  for buffer in model.buffers or []:
    if buffer.offset > 1:
      buffer.data = np.frombuffer(data, np.uint8, buffer.size, buffer.offset).copy()
    buffer.offset = 0
    buffer.size = 0


class _SharingBuilder(flatbuffers.Builder):
  """A builder that writes each distinct array (type, shape and bytes) once and hands out the
  first copy's offset for every later one: the object API packs every array of a model through
  CreateNumpyVector, and readers only follow offsets, so sharing changes no value read."""

  def __init__(self, initial_size: int):
    super().__init__(initial_size)
    self._written = {}

  def CreateNumpyVector(self, x):  # noqa: N802 (flatbuffers' name)
    key = (x.dtype.str, x.shape, x.tobytes())
    if key not in self._written:
      self._written[key] = super().CreateNumpyVector(x)
    return self._written[key]


def serialize(model: schema.ModelT) -> bytes:
  """Packs `model` with every buffer inline and each distinct array once."""
  builder = _SharingBuilder(1024)
  builder.Finish(model.Pack(builder), file_identifier=_IDENTIFIER)
  return bytes(builder.Output())


def builtin_code(model: schema.ModelT, op: schema.OperatorT) -> int:
  code = model.operatorCodes[op.opcodeIndex]
  return max(code.builtinCode, code.deprecatedBuiltinCode)


def op_name(code: int) -> str:
  return _BUILTIN_NAMES.get(code, f"OP_{code}")


_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


def type_name(tensor_type: int) -> str:
  return TYPE_NAMES.get(tensor_type, str(tensor_type))


def metadata_buffers(model: schema.ModelT) -> dict[str, bytes]:
  """Every named metadata entry's bytes (TFLITE_METADATA, min_runtime_version, ...)."""
  out = {}
  for meta in model.metadata or []:
    data = model.buffers[meta.buffer].data
    out[meta.name.decode()] = b"" if data is None else bytes(np.asarray(data, np.uint8))
  return out
