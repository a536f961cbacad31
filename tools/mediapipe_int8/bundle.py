"""Reads and writes MediaPipe .task bundles: zip archives of models and data.

MediaPipe memory-maps each entry, so every entry is written STORED (never
deflated) with its data aligned, in the input's order, with fixed timestamps
and permissions: the same entries always give the same bytes. This module
knows nothing of models.
"""

import dataclasses
import errno
import io
import os
import struct
import tempfile
import zipfile

from mediapipe_int8.errors import UserError

# Entry data starts on this boundary; TFLite wants at least 4 bytes, 16 suits SIMD loads.
ALIGNMENT = 16
# zip's earliest representable time; used for every entry so output never depends on the clock.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Extra-field id used for alignment padding (the one Android's zipalign uses).
_PADDING_EXTRA_ID = 0xD935
_LOCAL_HEADER_SIZE = 30
_ENCRYPTED = 0x1  # general-purpose flag bit 0


@dataclasses.dataclass(frozen=True)
class Entry:
  name: str
  data: bytes


def is_zip(data: bytes) -> bool:
  """True for a zip archive (found by its end record: Google's bundles start with padding)."""
  return zipfile.is_zipfile(io.BytesIO(data))


def read_entries(data: bytes, source: str) -> list[Entry]:
  """Returns the entries of a zip held in `data`, in archive order.

  `source` names the bundle in error messages (a path, or path/entry for a nested bundle).
  """
  try:
    archive = zipfile.ZipFile(io.BytesIO(data))
    infos = archive.infolist()
  except (zipfile.BadZipFile, OSError, ValueError) as e:
    raise UserError(f"{source}: not a zip archive ({e})") from None
  entries = []
  seen = set()
  for info in infos:
    if info.is_dir():
      continue
    _check_entry_name(info.filename, source)
    if info.filename in seen:
      raise UserError(f"{source}: entry {info.filename!r} appears twice")
    seen.add(info.filename)
    if info.flag_bits & _ENCRYPTED:
      raise UserError(f"{source}: entry {info.filename!r} is encrypted; bundles are never encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
      raise UserError(f"{source}: entry {info.filename!r} uses zip compression method "
                      f"{info.compress_type}; only stored (and deflated) entries can be read")
    try:
      entries.append(Entry(info.filename, archive.read(info)))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as e:
      raise UserError(f"{source}: entry {info.filename!r} cannot be read ({e})") from None
  return entries


def _check_entry_name(name: str, source: str) -> None:
  parts = name.replace("\\", "/").split("/")
  if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
    raise UserError(f"{source}: entry name {name!r} is an absolute path")
  if ".." in parts:
    raise UserError(f"{source}: entry name {name!r} contains '..'")


def write_entries(entries: list[Entry]) -> bytes:
  """Returns a zip of `entries`: stored, aligned, fixed times, in the given order."""
  out = io.BytesIO()
  with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
    for entry in entries:
      info = zipfile.ZipInfo(entry.name, date_time=FIXED_DATE_TIME)
      info.compress_type = zipfile.ZIP_STORED
      info.create_system = 3  # unix, on every host
      info.external_attr = 0o644 << 16
      header_offset = out.tell()
      info.extra = _padding_extra(header_offset + _LOCAL_HEADER_SIZE + len(entry.name.encode()))
      archive.writestr(info, entry.data)
  return out.getvalue()


def _padding_extra(data_offset_without_extra: int) -> bytes:
  """An extra field that moves the entry's data to the next ALIGNMENT boundary."""
  pad = -(data_offset_without_extra + 4) % ALIGNMENT  # 4: the extra field's own header
  return struct.pack("<HH", _PADDING_EXTRA_ID, pad) + b"\0" * pad


def data_offsets(data: bytes) -> dict[str, int]:
  """Where each entry's data starts in the archive (for alignment checks)."""
  offsets = {}
  with zipfile.ZipFile(io.BytesIO(data)) as archive:
    for info in archive.infolist():
      name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
      offsets[info.filename] = info.header_offset + _LOCAL_HEADER_SIZE + name_len + extra_len
  return offsets


def write_file_atomically(path: str, data: bytes) -> None:
  """Writes `data` to `path` through a temporary file and a rename: never a partial file."""
  write_files_atomically([(path, data)])


def write_files_atomically(files: list[tuple[str, bytes]]) -> None:
  """Writes every (path, data): each through a temporary file beside it, renamed only once all
  are written in full, so a failure (a full disk, Ctrl-C) leaves none of them behind."""
  temporary = []
  path = files[0][0] if files else ""
  try:
    for path, data in files:
      if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory")
      fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(os.path.abspath(path)))
      temporary.append(tmp)
      with os.fdopen(fd, "wb") as f:
        f.write(data)
      os.chmod(tmp, 0o644)
  except OSError as e:
    _remove(temporary)
    raise UserError(f"{path}: cannot be written ({e.strerror or e}); nothing written") from None
  except BaseException:
    _remove(temporary)
    raise
  for (path, _), tmp in zip(files, temporary):
    os.replace(tmp, path)


def _remove(paths: list[str]) -> None:
  for path in paths:
    if os.path.exists(path):
      os.unlink(path)
