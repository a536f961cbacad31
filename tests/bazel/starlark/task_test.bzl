"""What mediapipe_int8_task hands the quantizer, what the target gives, and what
mediapipe_int8_task_test hands the gate: analysis tests."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("@mediapipe_int8//rules:defs.bzl", "mediapipe_int8_task", "mediapipe_int8_task_test")

def _quantize_action(env):
    actions = [a for a in analysistest.target_actions(env) if a.mnemonic == "MediapipeInt8Quantize"]
    asserts.equals(env, 1, len(actions), "one quantize action")
    return actions[0]

def _flags(action):
    """The quantizer's flags (argv without the tool), with each file reduced to its base name."""
    out = []
    for arg in action.argv[1:]:
        name, sep, value = arg.partition("=")
        if sep and "/" in value:
            value = value.split("/")[-1]
        out.append(name + sep + value)
    return out

def _all_attributes_impl(ctx):
    env = analysistest.begin(ctx)
    action = _quantize_action(env)
    asserts.true(env, action.argv[0].endswith("tools/quantize_task"), action.argv[0])
    asserts.equals(env, [
        "--quiet",
        "--input=model.tflite",
        "--output=model_int8.tflite",
        "--report=all_attributes.report.json",
        "--recipe=int8",
        # sorted by model, whatever the dict's order in BUILD
        "--model_recipe=a.tflite=weight_only_int8",
        "--model_recipe=b.tflite=none",
        "--exclude=c.tflite",
        "--exclude=d.tflite",
        "--num_calibration_samples=8",
        "--budget_nme=0.02",
        "--budget_blendshapes=0.5",
        "--reconstruct_steps=150",
        "--io=int8",
        "--calibration_image=a.jpg",
        "--calibration_image=b.webp",
    ], _flags(action))

    # The inputs are the bundle and the photos (and the tool); the outputs the bundle and report.
    inputs = [f.basename for f in action.inputs.to_list()]
    for name in ["model.tflite", "a.jpg", "b.webp"]:
        asserts.true(env, name in inputs, name + " is an input")
    asserts.equals(env, ["model_int8.tflite", "all_attributes.report.json"],
                   [f.basename for f in action.outputs.to_list()])

    # Only the bundle is the target's file: `assets = [":target"]` puts one file in an APK.
    target = analysistest.target_under_test(env)
    asserts.equals(env, ["model_int8.tflite"],
                   [f.basename for f in target[DefaultInfo].files.to_list()])
    asserts.equals(env, ["all_attributes.report.json"],
                   [f.basename for f in target[OutputGroupInfo].report.to_list()])
    return analysistest.end(env)

all_attributes_test = analysistest.make(_all_attributes_impl)

def _defaults_impl(ctx):
    env = analysistest.begin(ctx)
    asserts.equals(env, [
        "--quiet",
        "--input=face.task",
        "--output=defaults.task",
        "--report=defaults.report.json",
        "--recipe=int8",
    ], _flags(_quantize_action(env)))
    return analysistest.end(env)

defaults_test = analysistest.make(_defaults_impl)

def _gate_impl(ctx):
    env = analysistest.begin(ctx)
    writes = [a for a in analysistest.target_actions(env) if a.mnemonic == "FileWrite"]
    asserts.equals(env, 1, len(writes), "one script")
    script = writes[0].content
    for expected in [
        "'--float_task=face.task'",
        "'--task=defaults.task'",
        "'--photo=a.jpg'",
        "'--photo=b.webp'",
        "'--budget_nme=0.02'",
    ]:
        asserts.true(env, expected in script, expected + " in " + script)
    asserts.false(env, "--budget_blendshapes" in script, "no blendshapes budget given")
    return analysistest.end(env)

gate_test = analysistest.make(_gate_impl)

def task_test_suite(name):
    mediapipe_int8_task(
        name = "all_attributes",
        src = ":model.tflite",  # io = "int8" is for a single model
        out = "model_int8.tflite",
        calibration_images = [":a.jpg", ":b.webp"],
        model_recipes = {"b.tflite": "none", "a.tflite": "weight_only_int8"},
        exclude = ["d.tflite", "c.tflite"],
        num_calibration_samples = 8,
        budget_nme = 0.02,
        budget_blendshapes = 0.5,
        reconstruct_steps = 150,  # analysis only: the tool refuses it together with io = "int8"
        io = "int8",
        tags = ["manual"],
    )
    all_attributes_test(name = "all_attributes_test", target_under_test = ":all_attributes")

    mediapipe_int8_task(name = "defaults", src = ":face.task", tags = ["manual"])
    defaults_test(name = "defaults_test", target_under_test = ":defaults")

    mediapipe_int8_task_test(
        name = "gate",
        task = ":defaults.task",
        float_task = ":face.task",
        photos = [":a.jpg", ":b.webp"],
        budget_nme = 0.02,
        tags = ["manual"],
    )
    gate_test(name = "gate_test", target_under_test = ":gate")

    native.test_suite(
        name = name,
        tests = [":all_attributes_test", ":defaults_test", ":gate_test"],
    )
