"""The py_tool entry (tools/BUILD) for the quantizer: the same command line as `python -m mediapipe_int8`."""
from mediapipe_int8 import cli

if __name__ == "__main__":
  cli.run()
