"""Public API of mediapipe_int8: turn MediaPipe `.task` bundles into INT8 bundles.

    load("@mediapipe_int8//rules:defs.bzl", "mediapipe_int8_task", "mediapipe_int8_task_test")
"""

load("//rules/private:python_toolchain.bzl", _mediapipe_int8_python_runtime = "mediapipe_int8_python_runtime")
load("//rules/private:task.bzl", _mediapipe_int8_task = "mediapipe_int8_task")
load("//rules/private:task_test.bzl", _mediapipe_int8_task_test = "mediapipe_int8_task_test")

mediapipe_int8_task = _mediapipe_int8_task
mediapipe_int8_task_test = _mediapipe_int8_task_test
mediapipe_int8_python_runtime = _mediapipe_int8_python_runtime
