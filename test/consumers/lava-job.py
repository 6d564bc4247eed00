# Runs scripts/lava/iovh.yaml the way a LAVA job does, with LAVA's own code
# (Debian's lava-dispatcher, unpacked by scripts/consumers/fetch.mjs):
#
#  1. the overlay's bin/ holds lava_test_shell's scripts behind the
#     interpreter line, as CreateOverlay.run writes them
#     (lava_dispatcher/actions/deploy/overlay.py);
#  2. tests/0_iovh/ is the "clone" of the repository (a directory of links to
#     the checkout's top-level entries, so that the build in it is used), with
#     the namespace data GitRepoAction.run would leave;
#  3. TestOverlayAction and TestRunnerAction (lava_dispatcher/actions/deploy/
#     testdef.py) run unchanged: the latter writes run.sh, with the
#     definition's params and the job's parameters as shell assignments;
#  4. lava-test-runner runs it through lava-test-shell, as on the device.
# Before that, the definition is checked against LAVA's schema of test
# definitions (lava_common/schemas/test/testdef.py).
#
# Usage: python3 lava-job.py CONFIG.json, with {checkout, workdir, testShell,
# path (the definition, relative to the checkout), parameters (the job's
# test parameters)}. Prints lava-test-runner's output; exits with its status.
import json
import logging
import os
import subprocess
import sys
import warnings

# Debian's requests 2.28 warns about its own charset_normalizer 3.0; the generator never uses either.
warnings.filterwarnings("ignore", module="requests")

from lava_common.compat import yaml_safe_load
from lava_common.schemas.test import testdef as testdef_schema
from lava_dispatcher.actions.deploy.testdef import TestOverlayAction, TestRunnerAction


class Job:
    """What the two actions read from a job: its id, context and device."""

    def __init__(self):
        self.job_id = "4242"
        self.context = {}
        self.device = {}


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    logging.basicConfig(level=logging.WARNING)
    workdir = config["workdir"]
    # The definition must pass LAVA's own schema of test definitions first.
    with open(os.path.join(config["checkout"], config["path"])) as f:
        testdef_schema.validate(yaml_safe_load(f))
    shell = "/bin/sh"  # lava_test_sh_cmd of the base device type
    lava = os.path.join(workdir, "lava-4242")
    stage = os.path.join(lava, "0")
    for d in ("bin", "results", os.path.join("0", "tests")):
        os.makedirs(os.path.join(lava, d), exist_ok=True)
    for name in sorted(os.listdir(config["testShell"])):
        src = os.path.join(config["testShell"], name)
        if not name.startswith("lava-") or not os.path.isfile(src):
            continue
        dst = os.path.join(lava, "bin", name)
        with open(src) as fin, open(dst, "w") as fout:
            fout.write("#!%s\n\n" % shell)
            fout.write(fin.read())
        os.chmod(dst, 0o755)

    test_name = "0_iovh"
    runner_path = os.path.join(stage, "tests", test_name)
    os.makedirs(runner_path)
    for entry in sorted(os.listdir(config["checkout"])):
        if entry in (".git", ".cache", "lava-output"):
            continue
        os.symlink(os.path.join(config["checkout"], entry), os.path.join(runner_path, entry))

    job = Job()
    testdef = {
        "from": "git",
        "repository": config["checkout"],
        "path": config["path"],
        "name": "iovh",
        "namespace": "common",
        "test_name": test_name,
    }
    if config.get("parameters") is not None:
        testdef["parameters"] = config["parameters"]
    uuid = "%s_1.1.1" % job.job_id

    def action(cls):
        a = cls()
        a.job = job
        a.level = "1.1.3"
        a.section = "deploy"
        a.parameters = dict(testdef)
        a.test_uuid = uuid
        return a

    overlay = action(TestOverlayAction)
    runsh = action(TestRunnerAction)
    # What GitRepoAction.run and TestDefinitionAction.populate leave behind.
    overlay.set_namespace_data(action="uuid", label="overlay_path", key=test_name, value=runner_path)
    overlay.set_namespace_data(action="uuid", label="runner_path", key=test_name, value=runner_path)
    overlay.set_namespace_data(
        action="test-definition", label="test-definition", key="testdef_index", value=["iovh"]
    )
    overlay.set_namespace_data(
        action="test", label=uuid, key="testdef_metadata", value={"name": "iovh"}
    )
    for a in (overlay, runsh):
        a.validate()
        if a.errors:
            sys.exit("lava-job: %s: %s" % (a.name, a.errors))
        a.run(None, None)
    with open(os.path.join(stage, "lava-test-runner.conf"), "w") as conf:
        conf.write("%s\n" % runner_path)

    r = subprocess.run([shell, os.path.join(lava, "bin", "lava-test-runner"), stage])
    sys.exit(r.returncode)


main()
