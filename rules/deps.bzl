"""WORKSPACE set-up for the mediapipe_int8 rules.

    load("@mediapipe_int8//rules:deps.bzl", "mediapipe_int8_dependencies")
    mediapipe_int8_dependencies()
"""

load("//rules/private:deps.bzl", _mediapipe_int8_dependencies = "mediapipe_int8_dependencies")

mediapipe_int8_dependencies = _mediapipe_int8_dependencies
