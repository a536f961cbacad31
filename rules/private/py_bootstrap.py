"""Starts a mediapipe_int8 tool inside its Python environment (py_tool.bzl writes the launcher).

    python -S -s -E -B py_bootstrap.py INTERPRETER_NAME SITE_PACKAGES LOCK MAIN [ARGS...]

Adds SITE_PACKAGES (with its .pth files), checks that every `name==version` of LOCK is installed,
and runs MAIN as __main__. A missing or different package fails with one line that names the
interpreter and the package, before anything else runs.
"""

import importlib.metadata
import os
import re
import runpy
import site
import sys

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def pins(lock: str) -> list[tuple[str, str]]:
  with open(lock, encoding="utf-8") as f:
    return [match.groups() for match in map(PIN.match, f) if match]


def first_mismatch(lock: str) -> str | None:
  for name, version in pins(lock):
    try:
      installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      return f"no package {name} (the lock pins {name}=={version})"
    if installed != version:
      return f"{name} is {installed}, but the lock pins {name}=={version}"
  return None


def main() -> None:
  interpreter, site_packages, lock, script = sys.argv[1:5]
  del sys.path[0]  # this file's folder
  site.addsitedir(site_packages)
  mismatch = first_mismatch(lock)
  if mismatch:
    print(f"error: {interpreter}: {mismatch}", file=sys.stderr)
    sys.exit(1)
  sys.argv = [script] + sys.argv[5:]
  sys.path.insert(0, os.path.dirname(script))
  runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
  main()
