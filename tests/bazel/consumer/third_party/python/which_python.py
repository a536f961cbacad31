"""Prints the interpreter that runs it and whether it has numpy (the fork's toolchain has not)."""
import importlib.util
import sys

print(f"python: {sys.executable}")
print("numpy: " + ("installed" if importlib.util.find_spec("numpy") else "missing"))
