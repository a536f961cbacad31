"""Bzlmod: the repository that rules/deps.bzl declares for WORKSPACE users."""

load(":deps.bzl", "PYTHON_REPOSITORY")
load(":python_environment.bzl", "python_environment")

def _mediapipe_int8_impl(_module_ctx):
    python_environment(name = PYTHON_REPOSITORY)

# Under Bzlmod there is no WORKSPACE suffix, so the offline stand-ins are not needed.
mediapipe_int8 = module_extension(implementation = _mediapipe_int8_impl)
