"""The crash points the reliability tests arm: they end the process where and when asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import faults

PASS_FIVE_TIMES = ("from bot.faults import crash_point\n"
                   "for i in range(5):\n"
                   "    print(i, flush=True)\n"
                   "    crash_point('outbox.handed')\n"
                   "    crash_point('event.claimed')\n"
                   "print('done', flush=True)\n")


def run(spec: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    if spec is not None:
        env[faults.ENV] = spec
    return subprocess.run([sys.executable, "-c", PASS_FIVE_TIMES], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_process_ends_at_the_nth_passage_of_the_named_point():
    done = run("outbox.handed:3")
    assert done.returncode == faults.EXIT_CODE
    assert done.stdout.split() == ["0", "1", "2"]
    assert "crash point outbox.handed reached" in done.stderr


def test_the_first_armed_point_reached_wins():
    done = run("event.claimed:2,outbox.handed:4")
    assert done.returncode == faults.EXIT_CODE
    assert done.stdout.split() == ["0", "1"]
    assert "crash point event.claimed reached" in done.stderr


def test_without_the_variable_nothing_happens():
    done = run(None)
    assert done.returncode == 0 and done.stdout.split()[-1] == "done"
    done = run("outbox.handed:6")  # armed, never reached
    assert done.returncode == 0 and done.stdout.split()[-1] == "done"


@pytest.mark.parametrize("spec", ["outbox.sent", "outbox.handed:0", "outbox.handed:x"])
def test_a_misspelt_plan_is_refused_at_start(spec):
    done = run(spec)
    assert done.returncode != 0 and "0" not in done.stdout.split()
    assert faults.ENV in done.stderr


STEP_BY_STEP = ("import sys\n"
                "from bot.faults import crash_point\n"
                "for i in range(10):\n"
                "    sys.stdin.readline()\n"
                "    crash_point('outbox.handed')\n"
                "    print(i, flush=True)\n")


def test_a_plan_file_arms_a_running_process(tmp_path):
    plan = tmp_path / "plan"
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    env[faults.PLAN_FILE] = str(plan)
    proc = subprocess.Popen([sys.executable, "-c", STEP_BY_STEP], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)

    def step() -> str:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    assert [step() for _ in range(3)] == ["0", "1", "2"]  # no file yet: nothing armed
    (tmp_path / "new").write_text("outbox.handed:2")
    (tmp_path / "new").rename(plan)
    assert step() == "3"  # passages counted from the change: this is the first
    assert step() == ""  # the second: gone
    assert proc.wait(30) == faults.EXIT_CODE
    assert "crash point outbox.handed reached" in proc.stderr.read()


def test_an_unknown_point_in_the_code_is_an_error():
    with pytest.raises(ValueError, match="no crash point named"):
        faults.crash_point("outbox.sent")


def test_every_named_point_is_passed_somewhere_in_the_bot():
    from pathlib import Path

    code = "".join(p.read_text() for p in Path(faults.__file__).parent.rglob("*.py"))
    for name in faults.POINTS:
        assert f'crash_point("{name}")' in code, name


def test_the_readme_lists_every_crash_point():
    from pathlib import Path

    readme = (Path(faults.__file__).parents[1] / "README.md").read_text()
    table = readme.split("### Reliability", 1)[1].split("\n\n", 3)[2]
    listed = [line.split("`")[1] for line in table.splitlines()[2:]]
    assert listed == list(faults.POINTS)
