#!/usr/bin/python3
"""The CI recipes of docs/ci/ parse, and the shard variables each one sets
select the shards it claims: for every shard of the recipe, the environment
that CI system gives the job makes `faultline run --dry-run` pick exactly the
runs of `--shard I/N`, and the shards together do every run once.

    ci_recipes_test.py FAULTLINE SOURCE_DIR

Needs PyYAML (Debian: python3-yaml, installed by dev.sh)."""
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("ci_recipes_test: FAIL: PyYAML is missing; install the Debian package python3-yaml "
             "(./dev.sh deps)")

FAULTLINE, SOURCE = sys.argv[1], sys.argv[2]
SCENARIOS = os.path.join(SOURCE, "scenarios")
SHARD_VARS = ("GTEST_SHARD_INDEX", "GTEST_TOTAL_SHARDS", "CI_NODE_INDEX", "CI_NODE_TOTAL",
              "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", "GTEST_SHARD_STATUS_FILE")
failures = []


def fail(message):
    failures.append(message)
    print("ci_recipes_test: FAIL: " + message, file=sys.stderr)


def load(name):
    with open(os.path.join(SOURCE, "docs", "ci", name)) as f:
        return list(yaml.safe_load_all(f))


def listing(command, env_vars):
    """The runs `command` (a shell command line) would do, one line each."""
    env = {k: v for k, v in os.environ.items() if k not in SHARD_VARS}
    env.update(env_vars)
    ran = subprocess.run(["sh", "-c", command + " --dry-run"], env=env, capture_output=True,
                         text=True)
    if ran.returncode != 0:
        fail(f"{command} with {env_vars}: exit {ran.returncode}: {ran.stderr.strip()}")
    return ran.stdout.splitlines()


def check_shards(recipe, command, shard_envs):
    """shard_envs: [(claimed index, claimed total, the job's environment)]."""
    failed_before = len(failures)
    everything = listing(command, {})
    if not everything:
        fail(f"{recipe}: `{command} --dry-run` lists no runs")
    claimed = sorted(i for i, _, _ in shard_envs)
    total = shard_envs[0][1]
    if claimed != list(range(total)) or any(n != total for _, n, _ in shard_envs):
        fail(f"{recipe}: the jobs claim shards {claimed} of {total}; expected each of 0..{total - 1}")
    union = []
    for index, n, env in shard_envs:
        mine = listing(command, env)
        expected = listing(f"{command} --shard {index}/{n}", {})
        if mine != expected:
            fail(f"{recipe}: the job of shard {index}/{n} ({env}) selects {len(mine)} runs, "
                 f"not the {len(expected)} of shard {index}/{n}")
        union += mine
    if sorted(union) != sorted(everything):
        fail(f"{recipe}: the shards together do {len(union)} runs; the suite has {len(everything)}")
    if len(failures) == failed_before:
        print(f"{recipe}: {len(shard_envs)} shards, {len(everything)} runs, each run in one shard")


def github():
    doc = load("github-actions.yml")[0]
    job = doc["jobs"]["scenarios"]
    shards = job["strategy"]["matrix"]["shard"]
    envs = []
    for position, value in enumerate(shards):
        env = {}
        for key, text in job["env"].items():
            text = str(text)
            text = text.replace("${{ matrix.shard }}", str(value))
            text = text.replace("${{ strategy.job-index }}", str(position))
            text = text.replace("${{ strategy.job-total }}", str(len(shards)))
            if "${{" in text:
                fail(f"github-actions.yml: env {key} has an expression this test cannot evaluate: {text}")
            env[key] = text
        envs.append((value, len(shards), env))
    check_shards("github-actions.yml", f"{FAULTLINE} run {SCENARIOS}/*.json --seeds 3", envs)
    steps = " ".join(str(s.get("run", "")) + str(s.get("with", "")) for s in job["steps"])
    for needed in ("ctest --test-dir build -L faultline", "--output-junit", "faultline report",
                   "junit.xml", "report/", "build/faultline-runs/"):
        if needed not in steps:
            fail(f"github-actions.yml: the shard job does not do or keep `{needed}`")
    merge = doc["jobs"]["report"]
    if merge.get("needs") != "scenarios":
        fail("github-actions.yml: the merge job does not wait for the shards")
    merge_steps = " ".join(str(s.get("run", "")) + str(s.get("with", "")) for s in merge["steps"])
    if "faultline report shards/*/build/faultline-runs" not in merge_steps:
        fail("github-actions.yml: the merge job does not report over every shard's runs")


def gitlab():
    doc = load("gitlab-ci.yml")[0]
    job = doc["faultline-scenarios"]
    total = job["parallel"]
    # GitLab numbers the jobs of `parallel: N` from 1.
    envs = [(node - 1, total, {"CI_NODE_INDEX": str(node), "CI_NODE_TOTAL": str(total)})
            for node in range(1, total + 1)]
    check_shards("gitlab-ci.yml", f"{FAULTLINE} run {SCENARIOS}/*.json --seeds 3", envs)
    if "junit.xml" not in str(job["artifacts"]["reports"]["junit"]):
        fail("gitlab-ci.yml: the shard jobs do not report their JUnit")
    if doc["faultline-report"].get("needs") != ["faultline-scenarios"]:
        fail("gitlab-ci.yml: the report job does not wait for the shards")


def kubernetes():
    docs = load("kubernetes-job.yml")
    jobs = [d for d in docs if d and d.get("kind") == "Job"]
    if len(jobs) != 1:
        return fail("kubernetes-job.yml: expected one Job")
    spec = jobs[0]["spec"]
    if spec.get("completionMode") != "Indexed":
        fail("kubernetes-job.yml: the Job is not an Indexed Job")
    total = spec["completions"]
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    if env.get("JOB_COMPLETIONS") != str(total):
        fail(f"kubernetes-job.yml: JOB_COMPLETIONS is {env.get('JOB_COMPLETIONS')!r}, "
             f"spec.completions is {total}")
    script = container["args"][0]
    command = script.split(";")[0].strip()
    if not command.startswith("faultline run "):
        return fail(f"kubernetes-job.yml: the pod does not run `faultline run`: {command}")
    seeds = re.search(r"--seeds (\d+)", command)
    if not seeds or int(seeds.group(1)) * 30 < 1000:
        fail("kubernetes-job.yml: a release qualification runs thousands of seeds")
    # The pod's command, on the bundled scenarios of this checkout, without
    # its --out and --junit (a dry run writes nothing).
    words = shlex.split(command)
    kept = [FAULTLINE, "run"]
    skip = False
    for word in words[2:]:
        if skip:
            skip = False
            continue
        if word in ("--out", "--junit"):
            skip = True
            continue
        kept.append(word.replace("/usr/share/faultline/scenarios", SCENARIOS))
    local = " ".join(kept)
    envs = [(i, total, {"JOB_COMPLETION_INDEX": str(i), "JOB_COMPLETIONS": env["JOB_COMPLETIONS"]})
            for i in range(total)]
    check_shards("kubernetes-job.yml", local, envs)


for recipe in (github, gitlab, kubernetes):
    try:
        recipe()
    except (KeyError, TypeError, IndexError, yaml.YAMLError) as e:
        fail(f"{recipe.__name__}: the recipe does not have the expected shape: {e!r}")
if failures:
    sys.exit(1)
print("ci_recipes_test: ok")
