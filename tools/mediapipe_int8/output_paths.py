"""Checks where the output and the report go before any work starts: a run that can't write its
results fails at once, not after minutes of calibration."""

import os

from mediapipe_int8.errors import UserError


def check(input_path: str, output: str, report: str | None) -> None:
  """UserError unless each path is a file (or nothing yet) in a writable folder, and all differ."""
  given = [("--output", output)] + ([("--report", report)] if report else [])
  for flag, path in given:
    if os.path.isdir(path):
      raise UserError(f"{path}: {flag} is a folder, not a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
      raise UserError(f"{path}: {flag} folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
      raise UserError(f"{path}: {flag} folder {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
      raise UserError(f"{path}: {flag} exists and is not writable")
    if _same(path, input_path):
      raise UserError(f"{path}: {flag} is the input file; write somewhere else")
  if report and _same(output, report):
    raise UserError(f"{report}: --report is the same file as --output")


def _same(a: str, b: str) -> bool:
  if os.path.realpath(a) == os.path.realpath(b):
    return True
  try:
    return os.path.samefile(a, b)
  except OSError:
    return False
