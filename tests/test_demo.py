"""`make demo`, run as the README runs it: the whole story passes, quietly, and leaves nothing
running; a deliberately broken handler makes it fail, naming the step."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from template_model import ROOT

BOOTSTRAP = "localaws/awslambda/bootstrap.py"


def run_demo(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)  # run as `make demo` does, from the root
    for name in list(environment):
        if name.startswith("AWS_"):
            del environment[name]  # the demo brings its own local AWS
    return subprocess.run(
        [sys.executable, "-m", "demo", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def lambda_processes(code: Path) -> list[str]:
    """The demo's Lambda-like processes: they run the code from ``code``."""
    found = subprocess.run(
        ["pgrep", "-af", BOOTSTRAP], capture_output=True, text=True, check=False
    ).stdout
    return [line for line in found.splitlines() if str(code) in line and "pgrep" not in line]


def copy_of_the_function(tmp_path: Path) -> Path:
    """The function's code in a folder of this test's own, so its processes can be told from
    those of other tests running at the same time."""
    code = tmp_path / "resource"
    shutil.copytree(
        ROOT / "resource", code, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return code


def test_the_demo_tells_the_whole_story_and_leaves_nothing_running(tmp_path: Path) -> None:
    code = copy_of_the_function(tmp_path)

    finished = run_demo("--quiet", "--code-dir", str(code))

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.startswith("demo: all 7 steps passed in ")
    assert lambda_processes(code) == []


def test_a_broken_handler_makes_the_demo_fail_and_name_the_step(tmp_path: Path) -> None:
    # A plausible bug: the planner forgets to add new pools, so every pass publishes a list
    # without them and the change is reported as done although no stage serves it. (A stage
    # left behind is not enough: the pass sees it and publishes again.)
    code = copy_of_the_function(tmp_path)
    with (code / "authorizer_pools" / "plan" / "authorizer.py").open("a") as module:
        module.write("\n\ndef adds(listed, owned, bounds=None):  # broken: never adds\n")
        module.write("    return ()\n")

    finished = run_demo("--code-dir", str(code))

    assert finished.returncode == 1
    last = finished.stdout.strip().splitlines()[-1]
    assert last.startswith("demo FAILED at step 2 (three tenant stacks created at once")
    assert "providerARNs are" in last


def test_a_handler_that_skips_the_flush_fails_the_demo_on_a_tenants_token(tmp_path: Path) -> None:
    # The stages serve the new list, but each still answers from its authorizer cache: the
    # tenants' users, who tried before their stacks existed, keep getting 401.
    code = copy_of_the_function(tmp_path)
    port = code / "authorizer_pools" / "api_gateway.py"
    source = port.read_text()
    signature = source.index("    def flush(")
    body = source.index(":\n", signature) + 2
    skipped = source[:body] + "        return  # broken: never flushes\n" + source[body:]
    port.write_text(skipped)

    finished = run_demo("--code-dir", str(code))

    assert finished.returncode == 1
    last = finished.stdout.strip().splitlines()[-1]
    assert last.startswith("demo FAILED at step 2 (three tenant stacks created at once")
    assert "user got 401 from GET /dev/orders, expected 200" in last


def test_the_kept_demo_prints_operator_lines_that_work() -> None:
    """``make demo KEEP=1`` leaves the local AWS up and prints how to reach it: the operator
    CLI line, run with the exports printed beside it, lists the authorizer's pools."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.pop("PYTHONPATH", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "demo", "--keep"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Whatever it prints (or fails to), the demo ends within this: its output then closes.
    deadline = threading.Timer(180.0, demo.kill)
    deadline.start()
    try:
        exports: dict[str, str] = {}
        command: list[str] = []
        assert demo.stdout is not None
        for line in demo.stdout:
            if not line.strip().startswith("export") and "authorizer_pools" not in line:
                continue  # prose, with its apostrophes
            words = shlex.split(line)
            if words[:1] == ["export"]:
                exports = dict(word.split("=", 1) for word in words[1:])
            if "authorizer_pools" in words and words[-1:] == ["list"]:
                command = words
                break
        assert exports, "no export line printed"
        assert command, "no operator line printed"
        listed = subprocess.run(
            command,
            cwd=ROOT,
            env={**environment, **exports},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        deadline.cancel()
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "userpool/" in listed.stdout  # the operators' pool, still trusted
