"""The py_tool entry (tools/BUILD) for the benchmark: `bazel run //tools:benchmark -- FLAGS`."""
from mediapipe_int8 import benchmark

if __name__ == "__main__":
  benchmark.run()
