"""The repository with the quantizer's Python: an interpreter and the locked packages, as files.

`python_environment(name = ...)` runs python_environment.py with a Python 3.11 of this machine. It
copies that interpreter and installs `third_party/requirements.lock` (`--require-hashes`) into a
store folder named after their sha256, links it into the repository, and defines
`//:toolchain` for mediapipe_int8's own toolchain type (`@mediapipe_int8//rules:python_toolchain_type`).
Every file is a declared input of the actions that run the quantizer, so their keys hold no path of
this machine, and a changed pin changes them.

Environment (client environment or `--repo_env=NAME=VALUE`):
  MEDIAPIPE_INT8_PYTHON_BOOTSTRAP  the Python 3.11 (with pip) to copy and install with; default:
                                   the first of python3.11 and python3 on PATH that is 3.11
  MEDIAPIPE_INT8_PYTHON_STORE      where the environments are kept; default
                                   ~/.cache/mediapipe_int8/python
"""

BOOTSTRAP_ENV = "MEDIAPIPE_INT8_PYTHON_BOOTSTRAP"
STORE_ENV = "MEDIAPIPE_INT8_PYTHON_STORE"
PYTHON_VERSION = "3.11"

_BUILD = """\
load("{runtime_bzl}", "mediapipe_int8_python_runtime")

# Made by mediapipe_int8's python_environment repository rule (environment {key}).
mediapipe_int8_python_runtime(
    name = "runtime",
    files = glob(["python/**", "site-packages/**"]),
    interpreter = "python/bin/python{version}",
    library_dir = "python/lib",
    lock = "LOCK",
    site_packages = "site-packages",
)

toolchain(
    name = "toolchain",
    toolchain = ":runtime",
    toolchain_type = "{toolchain_type}",
    visibility = ["//visibility:public"],
)
"""

def _label(label):
    # A label that also resolves from the generated repository's BUILD file (main repo: "@//...").
    text = str(label)
    return "@" + text if text.startswith("//") else text

def _bootstrap(rctx):
    configured = rctx.os.environ.get(BOOTSTRAP_ENV, "")
    if configured:
        return rctx.path(configured)
    for name in ["python" + PYTHON_VERSION, "python3"]:
        found = rctx.which(name)
        if found:
            return found
    fail("mediapipe_int8: no python{} on PATH; set {} to one (with pip)".format(
        PYTHON_VERSION,
        BOOTSTRAP_ENV,
    ))

def _store(rctx):
    configured = rctx.os.environ.get(STORE_ENV, "")
    if configured:
        return configured
    home = rctx.os.environ.get("HOME", "")
    if not home:
        fail("mediapipe_int8: neither {} nor HOME is set".format(STORE_ENV))
    return home + "/.cache/mediapipe_int8/python"

def _python_environment_impl(rctx):
    python = _bootstrap(rctx)
    rctx.report_progress("Installing the quantizer's Python packages with {}".format(python))
    result = rctx.execute(
        [
            python,
            rctx.path(rctx.attr._installer),
            "--lock=" + str(rctx.path(rctx.attr.lock)),
            "--store=" + _store(rctx),
            "--out=" + str(rctx.path(".")),
            "--python_version=" + PYTHON_VERSION,
        ],
        timeout = 3600,
        quiet = True,
    )
    if result.return_code != 0:
        fail("mediapipe_int8: the Python environment could not be made:\n" + result.stderr)
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))
    rctx.symlink(rctx.path(rctx.attr.lock), "LOCK")
    rctx.file("BUILD.bazel", _BUILD.format(
        key = result.stdout.strip(),
        runtime_bzl = _label(rctx.attr._runtime_bzl),
        toolchain_type = _label(rctx.attr._toolchain_type),
        version = PYTHON_VERSION,
    ))

python_environment = repository_rule(
    implementation = _python_environment_impl,
    attrs = {
        "lock": attr.label(
            default = Label("//:third_party/requirements.lock"),
            allow_single_file = True,
            doc = "The packages, pinned with sha256 (tools/lock_requirements.py writes it).",
        ),
        "_installer": attr.label(default = Label("//rules/private:python_environment.py")),
        "_runtime_bzl": attr.label(default = Label("//rules/private:python_toolchain.bzl")),
        "_toolchain_type": attr.label(default = Label("//rules:python_toolchain_type")),
    },
    environ = [BOOTSTRAP_ENV, STORE_ENV],
    doc = "Defines `@<name>//:toolchain`: mediapipe_int8's Python with its locked packages.",
)
