"""The py_tool entry (tools/BUILD) for the accuracy gate: `python -m mediapipe_int8.accuracy_gate`."""
from mediapipe_int8 import accuracy_gate

if __name__ == "__main__":
  accuracy_gate.run()
