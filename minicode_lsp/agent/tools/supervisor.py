"""The supervisor of one ``run_command``: a tiny process that owns the command's whole process tree.

Run as ``python -I -S supervisor.py [--linger FD] COMMAND`` (stdlib only, nothing of the
package), with the command's output pipe as stdout and a control pipe from the server as stdin. It makes itself
a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``): every process the command starts,
however it detaches (``setsid``, ``nohup``, a double fork, ``&``), stays its descendant when
its parent exits, instead of being handed to init. So the supervisor can always find and end
all of them:

- when ``bash`` exits, whatever it left running is ended (SIGTERM, a short grace, SIGKILL)
  before the supervisor exits with bash's status: a command's processes never outlive it;
- with ``--linger FD`` (a turn that ends its commands' leftovers itself), when ``bash`` exits
  and processes it started still run, bash's exit code is written to ``FD`` as one line and
  they keep running (the supervisor with them) until the control pipe says stop or they all
  exit; the supervisor then exits with bash's status;
- when the server writes to the control pipe (timeout, cancel, the turn ends) or the pipe
  reaches EOF (the server died or was killed), the whole tree is ended the same way.

Exit status: bash's exit code; 128+N when bash died of signal N.
"""

# Imports are few and light (no ``__future__``, ``shutil``, ``contextlib``, and ``_signal``, the C
# module behind ``signal``, without its enums): this starts once per command.
import _signal as signal
import os
import select
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
TERM_GRACE_S = 0.2


def make_subreaper() -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _children(pid: int) -> list[int] | None:
    """``pid``'s children from ``/proc/PID/task/*/children``; None where the kernel has no such file."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []  # gone meanwhile
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                out += [int(c) for c in fh.read().split()]
        except FileNotFoundError:
            if tid == tasks[0] and not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue
            return None
        except OSError:
            return None
    return out


def descendants(root: int) -> list[int]:
    """Every live process below ``root``: by the kernel's children lists (cheap: only the tree
    is read), else by the parent link of every process in /proc."""
    out: list[int] = []
    stack = [root]
    while stack:
        children = _children(stack.pop())
        if children is None:
            return _descendants_by_scan(root)
        out += children
        stack += children
    return out


def _descendants_by_scan(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:  # no /proc (not Linux): only bash's process group is ended, as before
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) < 2 or fields[0] == b"Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    out: list[int] = []
    stack = [root]
    while stack:
        for pid in children.get(stack.pop(), []):
            out.append(pid)
            stack.append(pid)
    return out


def reap() -> dict[int, int]:
    """Collect every exited child (orphans come to us as the subreaper); pid -> wait status."""
    done: dict[int, int] = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done[pid] = status


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def end_tree(me: int, statuses: dict[int, int], group: int) -> None:
    """SIGTERM every descendant (and bash's process group ``group``), wait a little, then
    SIGKILL until none is left (a process forking while we kill is caught by the next round)."""
    pids = descendants(me)
    signal_group(group, signal.SIGTERM)
    if not pids:
        signal_group(group, signal.SIGKILL)
        statuses.update(reap())
        return
    signal_all(pids, signal.SIGTERM)
    until = time.monotonic() + TERM_GRACE_S
    while time.monotonic() < until:
        statuses.update(reap())
        if not descendants(me):
            return
        time.sleep(0.01)
    signal_group(group, signal.SIGKILL)
    for _ in range(200):
        pids = descendants(me)
        if not pids:
            break
        signal_all(pids, signal.SIGKILL)
        time.sleep(0.005)
        statuses.update(reap())
    statuses.update(reap())


def which(name: str) -> str:
    for folder in os.get_exec_path():
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return "/bin/" + name


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def linger(me: int, control: int, wake_r: int, report: int, bash_status: int) -> None:
    """Report bash's exit code on ``report`` and wait while its leftovers run: until the
    control pipe says stop (or reaches EOF) or no descendant is left."""
    try:
        os.write(report, b"%d\n" % exit_code(bash_status))
        os.close(report)
    except OSError:
        return  # the server stopped listening: end the tree now
    while descendants(me):
        stop = stop_requested(control, wake_r)
        reap()
        if stop:
            return


def stop_requested(control: int, wake_r: int) -> bool:
    """Wait up to 0.5 s for the control pipe (a stop request, or EOF: the server is gone) or a
    signal (a child exited); whether the control pipe spoke."""
    try:
        ready, _, _ = select.select([control, wake_r], [], [], 0.5)
    except InterruptedError:
        return False
    if wake_r in ready:
        try:
            os.read(wake_r, 512)
        except BlockingIOError:
            pass
    return control in ready


def main(argv: list[str]) -> int:
    report = -1
    if len(argv) == 4 and argv[1] == "--linger" and argv[2].isdigit():
        report = int(argv[2])
        os.set_inheritable(report, False)
        argv = [argv[0], argv[3]]
    if len(argv) != 2:
        print("usage: supervisor.py [--linger FD] COMMAND", file=sys.stderr)
        return 2
    make_subreaper()
    me = os.getpid()
    control = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.set_inheritable(control, False)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: None)  # ended through the control pipe, never mid-cleanup
    if select.select([control], [], [], 0)[0]:  # stopped (or the server died) while we started: run nothing
        return 128 + signal.SIGKILL
    shell = which("bash")
    bash = os.posix_spawn(shell, ["bash", "-c", argv[1]], dict(os.environ), setsid=True)
    statuses: dict[int, int] = {}
    stopped = False
    while bash not in statuses:
        statuses.update(reap())
        if bash in statuses:
            break
        if stop_requested(control, wake_r):
            stopped = True
            break
    if report >= 0 and not stopped:
        statuses.update(reap())
        if descendants(me):
            linger(me, control, wake_r, report, statuses[bash])
    end_tree(me, statuses, bash)  # bash leads its own session: its pgid is its pid
    if stopped and bash not in statuses:
        statuses.update(reap())
    status = statuses.get(bash)
    return exit_code(status) if status is not None else 128 + signal.SIGKILL


if __name__ == "__main__":
    sys.exit(main(sys.argv))
