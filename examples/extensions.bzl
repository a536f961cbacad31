"""Bzlmod: the example's model repository (a dev dependency of this module)."""

load(":repositories.bzl", "example_repositories")

def _examples_impl(_module_ctx):
    example_repositories()

examples = module_extension(implementation = _examples_impl)
