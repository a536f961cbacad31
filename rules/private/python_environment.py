"""Builds the quantizer's Python environment for Bazel: an interpreter and its packages, as files.

Run by the repository rule in python_environment.bzl with the Python 3.11 that it found:

    python3.11 python_environment.py --lock LOCK --store STORE --out REPOSITORY_DIR

It makes, once per (lock, interpreter), a folder in STORE named after their sha256:
  python/bin/python3.11     a copy of this interpreter
  python/lib/               its libpython (when it is a shared build) and its standard library,
                            without site-packages, tests and the Tk/IDLE parts
  site-packages/            the lock's wheels, `pip install --require-hashes --no-deps --target`,
                            without .pyc files and without bin/ (scripts carry absolute paths)
and links `python` and `site-packages` into REPOSITORY_DIR. Every file then is a declared input of
the actions that run the quantizer, addressed by its content: the action key is the same in every
checkout and output base, on every machine with the same interpreter, and changes with any pin.

Nothing here writes a path of this machine into the environment. A second run with the same lock
and interpreter only links. The folder appears whole or not at all (built beside it, then renamed).
"""

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

# Parts of the standard library that the quantizer never imports and that make the tree large.
STDLIB_SKIP = {"site-packages", "dist-packages", "test", "tests", "idlelib", "tkinter",
               "turtledemo", "ensurepip", "lib2to3", "__pycache__", "pydoc_data"}
# Characters that Bazel 4 labels cannot hold; files named so are dropped (none is imported).
LABEL_UNSAFE = set(" \"'\\$[]{}<>|;&*?#~`%^")
FORMAT = "2"  # bump when the layout changes


def fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(1)


def file_sha256(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def interpreter_files() -> tuple[pathlib.Path, pathlib.Path | None, pathlib.Path]:
  """The real interpreter binary, its shared libpython (or None) and its standard library."""
  executable = pathlib.Path(os.path.realpath(sys.executable))
  libpython = None
  if sysconfig.get_config_var("Py_ENABLE_SHARED"):
    name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
    libpython = pathlib.Path(sysconfig.get_config_var("LIBDIR")) / name
    if not libpython.is_file():
      fail(f"{executable}: a shared build whose {libpython} is missing")
  return executable, libpython, pathlib.Path(sysconfig.get_paths()["stdlib"])


def environment_key(lock: pathlib.Path) -> str:
  executable, libpython, _ = interpreter_files()
  digest = hashlib.sha256(f"format {FORMAT}\n".encode())
  digest.update(lock.read_bytes())
  digest.update(file_sha256(executable).encode())
  if libpython:
    digest.update(file_sha256(libpython).encode())
  digest.update(sys.version.encode())
  return digest.hexdigest()[:24]


def label_safe(path: pathlib.Path) -> bool:
  return not (LABEL_UNSAFE & set(str(path)))


def copy_interpreter(dest: pathlib.Path) -> None:
  executable, libpython, stdlib = interpreter_files()
  version = "python{}.{}".format(*sys.version_info[:2])
  (dest / "bin").mkdir(parents=True)
  shutil.copy2(executable, dest / "bin" / version)
  lib = dest / "lib"
  lib.mkdir()
  if libpython:
    shutil.copy2(libpython, lib / libpython.name)

  def skip(folder: str, names: list[str]) -> set[str]:
    return {n for n in names
            if n in STDLIB_SKIP or n.startswith("config-") or not label_safe(pathlib.Path(n))}

  shutil.copytree(stdlib, lib / version, ignore=skip, symlinks=False)


def install_packages(lock: pathlib.Path, dest: pathlib.Path, log: pathlib.Path) -> None:
  command = [sys.executable, "-m", "pip", "install", "--require-hashes", "--no-deps",
             "--only-binary=:all:", "--no-compile", "--disable-pip-version-check",
             "--no-warn-script-location", "--target", str(dest), "-r", str(lock)]
  with open(log, "w") as out:
    result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, check=False)
  if result.returncode != 0:
    tail = log.read_text(errors="replace").strip().splitlines()[-15:]
    fail(f"{lock}: pip could not install it with {sys.executable} "
         f"(exit {result.returncode}; {log}):\n" + "\n".join(tail))
  # Scripts name this machine's interpreter by absolute path; the quantizer runs none of them.
  shutil.rmtree(dest / "bin", ignore_errors=True)
  for path in sorted(dest.rglob("*"), reverse=True):
    if path.name == "__pycache__" or (path.is_file() and not label_safe(path.relative_to(dest))):
      shutil.rmtree(path) if path.is_dir() else path.unlink()


def build(lock: pathlib.Path, final: pathlib.Path) -> None:
  work = final.with_name(final.name + f".tmp-{os.getpid()}")
  shutil.rmtree(work, ignore_errors=True)
  work.mkdir(parents=True)
  copy_interpreter(work / "python")
  install_packages(lock, work / "site-packages", final.with_name(final.name + ".pip.log"))
  (work / "LOCK").write_bytes(lock.read_bytes())
  try:
    os.rename(work, final)
  except OSError:
    if not (final / "LOCK").is_file():  # not a concurrent build that finished first
      raise
    shutil.rmtree(work, ignore_errors=True)


def link(out: pathlib.Path, env: pathlib.Path) -> None:
  for name in ("python", "site-packages"):
    target = out / name
    if target.is_symlink() or target.exists():
      target.unlink()
    target.symlink_to(env / name, target_is_directory=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--lock", type=pathlib.Path, required=True)
  parser.add_argument("--store", type=pathlib.Path, required=True)
  parser.add_argument("--out", type=pathlib.Path, required=True)
  parser.add_argument("--python_version", required=True, help="major.minor the lock is for")
  args = parser.parse_args()
  version = "{}.{}".format(*sys.version_info[:2])
  if version != args.python_version:
    fail(f"{sys.executable}: Python {version}, but {args.lock.name} is for Python "
         f"{args.python_version}; set MEDIAPIPE_INT8_PYTHON_BOOTSTRAP to a python{args.python_version}")
  try:
    import pip  # noqa: F401  (only to say so when it is missing)
  except ImportError:
    fail(f"{sys.executable}: no pip; install it, or set MEDIAPIPE_INT8_PYTHON_BOOTSTRAP to a "
         f"python{args.python_version} that has pip")
  env = args.store / environment_key(args.lock)
  if not (env / "LOCK").is_file():
    build(args.lock, env)
  link(args.out, env)
  print(env.name)


if __name__ == "__main__":
  main()
