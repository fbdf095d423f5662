"""The README's examples, and the documentation's that continue them, work when pasted in order (issue 15 item 4).

The README is a front page: its "Two commands" and "A five-minute tour" start the walkthrough,
each scheme's page goes on with its "Try it" (docs/schemes/*.md), then the example scheme of
docs/writing-a-scheme.md, and the housekeeping commands of docs/operations.md end it
(``WALKTHROUGH``). Their shell blocks run in that order in one bash (with ``set -u``: a
variable no earlier command set is an error), in a fresh directory, against the
``authhub serve`` that the tour starts in the background; the README's ``PORT=8000`` becomes a free
port. Every command must exit with status 0. A comment line right under a command is a line it
prints, in order: JSON is compared as JSON, other lines with runs of blanks taken as one; ``…`` (or
``...``) stands for anything.

Only the installation lines are not run (``INSTALLATION``): this environment (tox ``all``) already
has what they install, and the example scheme is installed with pip into a directory of its own.

The Python examples run too: the application of the README's "Using it in an application" and the
adapters of the Frameworks page's "At a glance" answer requests (``readme_apps.py``), and the pytest
example there passes under pytest.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).parent.parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
EXAMPLE_SCHEME = ROOT / "docs" / "example-plugin"

#: The sections whose shell blocks run, in the order a reader pastes them: (document, ``## `` title).
WALKTHROUGH = (
    ("README.md", "Two commands"),
    ("README.md", "A five-minute tour"),
    ("docs/schemes/basic.md", "Try it"),
    ("docs/schemes/token.md", "Try it"),
    ("docs/schemes/session.md", "Try it"),
    ("docs/schemes/oauth.md", "Try it"),
    ("docs/writing-a-scheme.md", "The example scheme"),
    ("docs/operations.md", "Housekeeping"),
)
#: README sections with shell blocks that are not run here: the benchmarks take minutes.
NOT_RUN = ("Performance",)
#: The page that holds the frameworks' examples, and its section.
FRAMEWORKS = ("docs/adapters.md", "At a glance")

#: Walkthrough lines that are not run as written, and what runs instead ("" for nothing): the
#: installation, which this environment has done already (checked by the test), the foreground
#: server of "Two commands" (the tour starts its own in the background), and the test suite.
INSTALLATION = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install authhub-token": "",
    "authhub serve": "",
    "pip install authhub-basic authhub-session authhub-oauth": "",
    "python3 -m venv .venv && . .venv/bin/activate && pip install . ./plugins/authhub_basic ./plugins/authhub_token"
    " ./plugins/authhub_session ./plugins/authhub_oauth": "",
    'python3 -m pip install "tox>=4.20" && python3 -m tox run-parallel': "",
    "pip install ./docs/example-plugin": "{python} -m pip install --quiet --no-deps --target {site} {example}"
    " && export PYTHONPATH={site}",
}
#: The README's port, replaced by a free one.
PORT_LINE = re.compile(r"PORT=8000(\s+#.*)?")
#: What the INSTALLATION lines install.
DISTRIBUTIONS = ("authhub-core", "authhub-token", "authhub-basic", "authhub-session", "authhub-oauth")

WILDCARD = re.compile(r"…|\.\.\.")
BEGIN, END = "@@readme-test-begin", "@@readme-test-end"


@attrs.frozen
class Command:
    """A shell line of the walkthrough and the lines the document says it prints."""

    section: str
    line: str
    expected: tuple[str, ...] = ()


def section(title: str, text: str = README) -> str:
    """The body of the ``## title`` section, up to the next ``## `` heading."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def document(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def commands_of(block: str, title: str) -> list[Command]:
    """The block's commands; the comment lines right under one (no blank line between) are its output."""
    found: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    pending = ""
    for raw in block.splitlines():
        line = raw.rstrip()
        if pending:
            line, pending = pending + line, ""
        if not line:
            current = None
        elif line.startswith("#"):
            if current is not None:
                current.append(line[2:] if line.startswith("# ") else line[1:])
        elif line.endswith("\\"):
            pending = line[:-1]
        else:
            current = []
            found.append((line, current))
    assert not pending, f"{title}: a block ends in a continued line"
    return [Command(title, line, tuple(expected)) for line, expected in found]


def walkthrough_commands() -> list[Command]:
    commands = []
    for path, title in WALKTHROUGH:
        blocks = fenced(section(title, document(path)), "sh")
        assert blocks, f"{path}: {title!r} has no shell block"
        for block in blocks:
            commands.extend(commands_of(block, f"{path}: {title}"))
    return commands


def wildcard_regex(expected: str) -> str:
    """Runs of blanks match runs of blanks; a wildcard matches anything."""
    words = expected.split()
    return r"\s+".join(".*".join(re.escape(piece) for piece in WILDCARD.split(word)) for word in words)


def json_matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and WILDCARD.search(expected):
        if WILDCARD.fullmatch(expected):
            return True
        pattern = ".*".join(re.escape(piece) for piece in WILDCARD.split(expected))
        return isinstance(actual, str) and re.fullmatch(pattern, actual, flags=re.DOTALL) is not None
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(json_matches(value, actual[key]) for key, value in expected.items()))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(json_matches(one, other) for one, other in zip(expected, actual)))
    return type(expected) is type(actual) and expected == actual


def line_matches(expected: str, actual: str) -> bool:
    if expected.startswith(("{", "[")):
        try:
            parsed = json.loads(actual)
        except ValueError:
            return False
        return json_matches(json.loads(expected), parsed)
    return re.fullmatch(wildcard_regex(expected), actual.strip(), flags=re.DOTALL) is not None


def missing_lines(expected: tuple[str, ...], output: str) -> list[str]:
    """The expected lines that ``output`` does not print, in order (other lines may come between)."""
    lines = [line.rstrip("\r") for line in output.splitlines() if line.strip()]
    position, missing = 0, []
    for wanted in expected:
        for index in range(position, len(lines)):
            if line_matches(wanted, lines[index]):
                position = index + 1
                break
        else:
            missing.append(wanted)
    return missing


def shell_script(commands: list[Command], replacements: dict[str, str]) -> str:
    """One bash script: each command between markers that carry its number and exit status."""
    parts = ["set -u"]
    for number, command in enumerate(commands):
        line = replacements.get(command.line, command.line)
        if not line:
            continue
        parts += [
            f"printf '\\n{BEGIN} {number}\\n'; printf '\\n{BEGIN} {number}\\n' >&2",
            line,
            "__readme_status=$?",
            f"printf '\\n{END} {number} %d\\n' $__readme_status",
            '[ "$__readme_status" -eq 0 ] || exit 97',
        ]
    return "\n".join(parts) + "\n"


def outputs(text: str) -> dict[int, tuple[str, int]]:
    """Each command's output and exit status, by number."""
    found = re.finditer(rf"^{BEGIN} (\d+)\n(.*?)\n{END} \1 (\d+)$", text, flags=re.MULTILINE | re.DOTALL)
    return {int(match[1]): (match[2], int(match[3])) for match in found}


def stderr_of(text: str, number: int) -> str:
    """What went to stderr while command ``number`` ran (the background server's lines included)."""
    pieces = re.split(rf"^{BEGIN} (\d+)$", text, flags=re.MULTILINE)
    return dict(zip(pieces[1::2], pieces[2::2])).get(str(number), text).strip()


@attrs.frozen
class Run:
    commands: list[Command]
    run: list[int]  # the numbers of the commands the script runs
    outputs: dict[int, tuple[str, int]]
    stdout: str
    stderr: str
    status: int
    left_running: bool  # something still listened on the port 10 s after the bash ended

    def problems(self) -> list[str]:
        """Each command that ran and failed, or did not print what its document says it prints."""
        found = []
        for number, command in enumerate(self.commands):
            if number not in self.outputs:
                continue
            output, status = self.outputs[number]
            where = f"{command.section}: {command.line}"
            if status != 0:
                found.append(f"{where}\n  exit status {status}\n  stdout: {output.strip()}\n"
                             f"  stderr: {stderr_of(self.stderr, number)}")
            elif missing := missing_lines(command.expected, output):
                found.append(f"{where}\n  does not print: {missing}\n  it printed: {output.strip()}")
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def clean_environment() -> dict[str, str]:
    """This environment's programs first on PATH, no AUTHHUB_* or PYTHONPATH from the caller, UTF-8."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("AUTHHUB_") and key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    environ.update({"PATH": f"{BIN}{os.pathsep}{environ.get('PATH', '')}", "LC_ALL": "C.UTF-8"})
    return environ


def stopped_listening(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while listening(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run_shell(commands: list[Command], replacements: dict[str, str], directory: Path, timeout: float,
              port: int | None = None) -> Run:
    """Run the commands in one bash in ``directory``; whatever it left running is killed afterwards."""
    script = directory / "readme.sh"
    script.write_text(shell_script(commands, replacements), encoding="utf-8")
    stdout, stderr = directory / "stdout", directory / "stderr"
    # Files, not pipes: a server left in the background would hold a pipe open.
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(["bash", str(script)], cwd=directory, env=clean_environment(),
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        try:
            status = process.wait(timeout=timeout)
            left_running = port is not None and not stopped_listening(port, 10)
        finally:
            # The bash and everything it started (its session's process group), and only that.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = stdout.read_text(encoding="utf-8", errors="replace")
    numbers = [number for number, command in enumerate(commands) if replacements.get(command.line, command.line)]
    return Run(commands, numbers, outputs(text), text, stderr.read_text(encoding="utf-8", errors="replace"), status,
               left_running)


# ---------------------------------------------------------------------------------------------
# The shell walkthroughs


def test_only_the_installation_lines_are_left_out() -> None:
    """Every shell line of those sections runs, but the installation; each of those is still shown."""
    lines = [command.line for command in walkthrough_commands()]
    for line in INSTALLATION:
        assert lines.count(line) == 1, f"the walkthrough lost this installation line (update INSTALLATION): {line}"
    left_out = [line for line in lines if line in INSTALLATION]
    assert len(left_out) == len(INSTALLATION)
    assert sum(bool(PORT_LINE.fullmatch(line)) for line in lines) == 1, "the tour sets PORT=8000 once"
    assert len(lines) - len(left_out) >= 30, "the walkthroughs run"
    for name in DISTRIBUTIONS:  # what the installation lines install
        assert importlib.metadata.version(name)
    assert (BIN / "authhub").exists() and (BIN / "python").exists(), BIN


def test_every_shell_block_of_those_documents_is_in_the_walkthrough() -> None:
    """A shell block added to the README or to a walkthrough page outside the sections that run would go untested."""
    for path in dict.fromkeys(path for path, _ in WALKTHROUGH):
        text = document(path)
        run = [block for where, title in WALKTHROUGH if where == path for block in fenced(section(title, text), "sh")]
        if path == "README.md":
            run += [block for title in NOT_RUN for block in fenced(section(title, text), "sh")]
        left = [block for block in fenced(text, "sh") if block not in run]
        assert not left, f"{path} has shell blocks that no test runs:\n" + "\n".join(left)


@pytest.fixture(scope="module")
def walkthroughs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, int]]:
    directory = tmp_path_factory.mktemp("readme")
    port = free_port()
    site = tmp_path_factory.mktemp("site")
    replacements = {
        line: replacement.format(python=shlex.quote(sys.executable), site=shlex.quote(str(site)),
                                 example=shlex.quote(str(EXAMPLE_SCHEME)))
        for line, replacement in INSTALLATION.items()
    }
    commands = walkthrough_commands()
    replacements.update({command.line: f"PORT={port}" for command in commands if PORT_LINE.fullmatch(command.line)})
    yield run_shell(commands, replacements, directory, timeout=150, port=port), port


def test_the_walkthroughs_run_in_order_against_a_live_server(walkthroughs: tuple[Run, int]) -> None:
    run, _ = walkthroughs
    problems = run.problems()
    assert not problems, "\n\n".join(problems)
    assert sorted(run.outputs) == run.run, (
        f"the shell stopped (status {run.status}) after: {run.commands[max(run.outputs, default=0)].line}\n"
        f"stderr: {run.stderr[-3000:]}"
    )
    assert run.status == 0, run.stderr[-3000:]
    # Each command's promise was checked: the documents show what most of them print.
    assert sum(bool(command.expected) for command in run.commands) >= 20


def test_the_walkthroughs_stop_the_server_they_start(walkthroughs: tuple[Run, int]) -> None:
    run, port = walkthroughs
    # The tour's server, and the same restarted with the example scheme.
    assert run.stderr.count(f"serving http://127.0.0.1:{port}/") == 2
    assert not run.left_running, "the walkthrough's last block leaves the server running"


def test_the_runner_catches_a_broken_command_and_a_wrong_answer(tmp_path: Path) -> None:
    """What the walkthrough test relies on: a failing command, an unset variable and a wrong line all show."""
    readme = "\n## Two commands\n\n```sh\necho '{\"a\": 1, \"b\": \"xyz\"}'\n# {\"a\": 1, \"b\": \"x...\"}\n" \
             "echo 'Set-Cookie: s=abc;  Path=/'\n# Set-Cookie: s=…; Path=/\n" \
             "echo '{\"a\": 2}'\n# {\"a\": 1}\n\n# an explanation, not an output\nfalse\necho $UNSET\n```\n"
    commands = commands_of(fenced(section("Two commands", readme), "sh")[0], "Two commands")
    assert [command.expected for command in commands] == [
        ('{"a": 1, "b": "x..."}',), ("Set-Cookie: s=…; Path=/",), ('{"a": 1}',), (), ()]
    run = run_shell(commands, {}, tmp_path, timeout=30)
    problems = run.problems()
    assert len(problems) == 2, problems
    assert "echo '{\"a\": 2}'" in problems[0] and "does not print: ['{\"a\": 1}']" in problems[0]
    assert problems[1].startswith("Two commands: false\n  exit status 1")
    assert sorted(run.outputs) == [0, 1, 2, 3] and run.status == 97
    without_false = run_shell([command for command in commands if command.line != "false"], {}, tmp_path, timeout=30)
    assert sorted(without_false.outputs) == [0, 1, 2] and "UNSET: unbound variable" in without_false.stderr


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ('{"user":"client:...","n":1}', '{"user": "client:abc", "n": 1}', True),
        ('{"user":"client:...","n":1}', '{"user": "other:abc", "n": 1}', False),
        ('{"user":"client:...","n":1}', '{"user": "client:abc", "n": true}', False),
        ('{"user":"client:...","n":1}', '{"user": "client:abc", "n": 1, "more": 2}', False),
        ('{"id":"..."}', '{"id": 3}', True),
        ("1 alice laptop … no", "1   alice  laptop  2026-12-06 02:10:36Z  never  no", True),
        ("1 alice laptop … no", "1   alice  laptop  2026-12-06 02:10:36Z  never  yes", False),
        ("HTTP/1.1 401 Unauthorized", "HTTP/1.1 401 Unauthorized\r", True),
        ("HTTP/1.1 401 Unauthorized", "HTTP/1.1 200 OK", False),
    ],
)
def test_an_expected_line(expected: str, actual: str, matches: bool) -> None:
    assert line_matches(expected, actual.rstrip("\r")) is matches


# ---------------------------------------------------------------------------------------------
# The Python examples


def python_block_after(text: str, label: str) -> str:
    """The first Python block after ``label``."""
    match = re.compile(r"^```python\n(.*?)^```", flags=re.MULTILINE | re.DOTALL).search(text, text.index(label))
    assert match, f"no Python block after {label!r}"
    return match[1]


def frameworks_section() -> str:
    path, title = FRAMEWORKS
    return section(title, document(path))


def test_the_applications_answer_requests(tmp_path: Path) -> None:
    """The README's "Using it in an application" and the Frameworks page's adapters, as written."""
    frameworks = frameworks_section()
    examples = {
        "wsgi_app.py": fenced(section("Using it in an application"), "python")[0],
        "flask_app.py": python_block_after(frameworks, "**Flask**"),
        "django_settings.py": python_block_after(frameworks, "**Django + DRF**"),
        "starlette_app.py": python_block_after(frameworks, "**Starlette**"),
        "fastapi_app.py": python_block_after(frameworks, "**FastAPI**"),
    }
    for name, source in examples.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    result = subprocess.run([sys.executable, str(Path(__file__).parent / "readme_apps.py"), str(tmp_path)],
                            cwd=tmp_path, env=clean_environment(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    errors = {name: answer["error"] for name, answer in answers.items() if "error" in answer}
    assert not errors, "\n".join(f"{name}:\n{error}" for name, error in errors.items())
    challenges = ["Token", 'Bearer realm="authhub"', 'Basic realm="api", charset="UTF-8"']
    assert answers == {
        "wsgi": {"anonymous": "401 Unauthorized", "token": ["200 OK", "hello alice"]},
        "flask": {"anonymous": [401, challenges], "token": [{"user": "alice"}], "login page": 200},
        "starlette": {"anonymous": [401, challenges], "token": {"user": "alice", "scheme": "token"},
                      "login page": 200},
        "fastapi": {"anonymous": 401, "token": {"user": "alice"}, "reports without the scope": 403,
                    "reports with the scope": {"user": "alice"}, "login page": 200},
        "django": {"drf anonymous": [401, "Token"], "drf token": {"user": "alice"},
                   "plain anonymous": {"user": "", "authenticated": False},
                   "plain token": {"user": "alice", "authenticated": True}, "login page": 200},
    }


def test_the_pytest_example_passes(tmp_path: Path) -> None:
    """The pytest example is a whole test file: pytest runs it with authhub's fixtures and it passes."""
    frameworks = frameworks_section()
    (tmp_path / "test_me.py").write_text(python_block_after(frameworks, "**pytest**"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_me.py"],
                            cwd=tmp_path, env=clean_environment(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^1 passed", result.stdout, flags=re.MULTILINE), result.stdout
