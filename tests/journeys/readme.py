"""The README's journeys, run as a user types them: the command blocks marked `<!-- journey: NAME ... -->`, from the
root of a fresh copy of the repository, in a bash session whose variables carry from one command to the next.

A journey is every block that names it, in the README's order (or by step: `NAME:2`). Three things a person does
by reading are written in the blocks' own comments, so the README shows them too:
- `# in one terminal`: a server (`make serve`) started first, in a terminal of its own, and left running;
- `# until "TEXT"`: the command is repeated until its output shows TEXT (a person re-runs it while waiting);
- `<arn>`: the ARN the session printed last (the README says so).
Nothing else changes, not even the ports: each journey runs in a network namespace of its own (loopback only), where
the README's ports are free and nothing beyond this machine can be reached."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
_BLOCK = re.compile(r"<!-- journey: ([\w\-: ]+) -->\n```bash\n(.*?)```", re.S)
_UNTIL = re.compile(r'# until "([^"]+)"')
_ARN = re.compile(r"arn:aws:[^\s\"',\]]+")
SERVER_READY = "Ctrl-C stops it."  # the last line `make serve` prints once the app is deployed


@dataclass(frozen=True)
class Command:
    text: str  # as the README shows it, continuation lines joined

    @property
    def in_own_terminal(self) -> bool:
        return "# in one terminal" in self.text

    @property
    def until(self) -> str | None:
        match = _UNTIL.search(self.text)
        return match.group(1) if match else None


def journeys(readme: Path = README) -> dict[str, list[Command]]:
    """{journey name: its commands}. A block marked `NAME:N` is step N of that journey (unmarked: 0); blocks run by
    step, then in the README's order, so a section may show a step that a later section leads up to."""
    steps: dict[str, list[tuple[int, int, list[Command]]]] = {}
    for position, (names, block) in enumerate(_BLOCK.findall(readme.read_text())):
        commands = [Command(line) for line in block.replace("\\\n", "").splitlines() if line.strip()]
        for token in names.split():
            name, _, step = token.partition(":")
            steps.setdefault(name, []).append((int(step or 0), position, commands))
    return {name: [command for *_, block in sorted(blocks) for command in block] for name, blocks in steps.items()}


def copy_of_the_repository(destination: Path) -> Path:
    """What a clone of the working tree holds (tracked files and new ones git does not ignore), with the environments
    `make setup` made linked in, so the Makefile's targets find themselves set up."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.exists() or source.is_symlink():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    for environment in (".venv", "node_modules"):
        (destination / environment).symlink_to(REPO_ROOT / environment)
    return destination


def user_environment(home: Path) -> dict[str, str]:
    """A user's shell: this machine's variables without the tests' AWS settings or the variables of a `make` the
    tests may run under (`make test`: a nested make prints "Entering directory" lines a user's make does not)."""
    leave_out = ("AWS_", "SCIKIT_LEARN", "MAKE", "MFLAGS")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(leave_out)}
    environment.update(HOME=str(home), PYTHONWARNINGS="ignore")
    home.mkdir(parents=True, exist_ok=True)
    return environment


class Offline:
    """A network namespace with only loopback: the journey's processes reach each other and nothing else."""

    def __enter__(self) -> Offline:
        self._holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 3600"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._holder.stdout.readline().strip() == "up"
        return self

    def command(self, *arguments: str) -> list[str]:
        return ["nsenter", f"--net=/proc/{self._holder.pid}/ns/net", *arguments]

    def __exit__(self, *exc) -> None:
        self._holder.kill()
        self._holder.wait()


class _Output:
    """A process's output lines, read as they come."""

    def __init__(self, process: subprocess.Popen):
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process) -> None:
        for line in process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_line(self, deadline: float) -> str | None:
        """The next line, or None when the process closed its output; TimeoutError past the deadline."""
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError from None
        if line is not None:
            self.seen.append(line)
        return line

    def tail(self, count: int = 40) -> str:
        return "".join(self.seen[-count:])


class JourneyFailed(AssertionError):
    pass


class Session:
    """A user at a terminal, in the repository root: a bash session for commands, a terminal of its own per server."""

    def __init__(self, root: Path, environment: dict[str, str], offline: Offline):
        self.root, self._environment, self._offline = root, environment, offline
        self.outputs: list[str] = []
        self.seconds: list[tuple[str, float]] = []  # each command's time, for a failure's report
        self._servers: list[tuple[subprocess.Popen, _Output]] = []
        self._shell = self._start(["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE)
        self._shell_output = _Output(self._shell)

    def _start(self, command: list[str], stdin=subprocess.DEVNULL) -> subprocess.Popen:
        return subprocess.Popen(
            self._offline.command(*command),
            cwd=self.root,
            env=self._environment,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a process group, so Ctrl-C (SIGINT to the group) stops it as in a terminal
        )

    def walk(self, commands: list[Command], timeout: float = 300) -> None:
        """Servers first (a person starts them before the rest), then every other command in order."""
        for command in commands:
            if command.in_own_terminal:
                self.start_server(command, timeout)
        for command in commands:
            if not command.in_own_terminal:
                self.run(command, timeout)

    def start_server(self, command: Command, timeout: float) -> None:
        process = self._start(["bash", "-c", self._typed(command)])
        output = _Output(process)
        self._servers.append((process, output))
        deadline = time.monotonic() + timeout
        while True:
            line = output.next_line(deadline)
            if line is None:
                raise JourneyFailed(f"`{command.text}` stopped before it was ready:\n{output.tail()}")
            if line.strip() == SERVER_READY:
                return

    def run(self, command: Command, timeout: float = 300) -> str:
        """The command's output; a non-zero status, or no sign of `until` in time, fails the journey."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            status, output = self.type(self._typed(command), deadline)
            if status == 0 and (command.until is None or command.until in output):
                self.seconds.append((command.text, time.monotonic() - started))
                self.outputs.append(output)
                return output
            # While waiting, a failing command is "not yet" (`aws s3 ls` of an empty prefix exits 1); "Failed" is final.
            if command.until is None or time.monotonic() > deadline or "Failed" in output:
                wanted = f', never showed "{command.until}"' if command.until else ""
                raise JourneyFailed(f"`{command.text}` exited {status}{wanted}:\n{output}\n{self.server_logs()}")
            time.sleep(1)

    def type(self, text: str, deadline: float) -> tuple[int, str]:
        """Runs one line in the bash session: (exit status, what it printed, stderr included)."""
        marker = uuid.uuid4().hex
        self._shell.stdin.write(f"{text}\nprintf '\\n{marker} %s\\n' $?\n")
        self._shell.stdin.flush()
        printed: list[str] = []
        try:
            while (line := self._shell_output.next_line(deadline)) is not None:
                if line.startswith(marker):
                    return int(line.split()[1]), "".join(printed).removesuffix("\n")
                printed.append(line)
        except TimeoutError:
            raise JourneyFailed(f"`{text}` did not finish in time:\n{''.join(printed)}") from None
        raise JourneyFailed(f"the shell exited during `{text}`:\n{''.join(printed)}")

    def _typed(self, command: Command) -> str:
        """The command as the user types it, with the last ARN printed for `<arn>`."""
        return command.text.replace("<arn>", self._last_arn(command)) if "<arn>" in command.text else command.text

    def _last_arn(self, command: Command) -> str:
        for output in reversed(self.outputs):
            if found := _ARN.findall(output):
                return found[0]
        raise JourneyFailed(f"`{command.text}` needs an <arn>, but no command before it printed one")

    def server_logs(self) -> str:
        return "\n".join(f"server output:\n{output.tail()}" for _, output in self._servers)

    def close(self) -> None:
        self._shell.stdin.close()
        for process, _ in self._servers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        for process, _ in [*self._servers, (self._shell, None)]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def walked(tmp_path: Path, journey: str):
    """The session after the journey's last command, its servers still running."""
    clone = copy_of_the_repository(tmp_path / "clone" / "scoreline")
    with Offline() as offline:
        session = Session(clone, user_environment(tmp_path / "home"), offline)
        try:
            session.walk(journeys()[journey])
            yield session
        finally:
            session.close()
