"""CPU threads: every command takes --threads N (rnncli/cli/app.py adds it), and the
default leaves the cores other processes keep busy alone: two processes with two OpenMP
threads each on two cores slow each other down about 10x (bench/concurrent_threads.py).

Imports no torch itself, so choosing threads costs a command that needs none nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

from rnncli.errors import ConfigError


@dataclass(frozen=True)
class ThreadChoice:
    """How many threads a command runs torch with, and why."""

    threads: int
    cores: int          # the cores this process may run on (its CPU affinity)
    source: str         # "--threads", "OMP_NUM_THREADS" or "default"
    busy: float = 0.0   # the load of other processes the default made room for

    def note(self) -> str | None:
        """A line for stderr when the default took fewer threads than cores because of load."""
        if self.source != "default" or self.threads >= self.cores or self.busy < 0.5:
            return None
        return (f"using {self.threads} of {self.cores} cores: other processes keep about {self.busy:g} "
                "busy (--threads N to choose)")


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # no affinity masks (macOS, Windows)
        return os.cpu_count() or 1


def runnable_now(samples: int = 5, gap: float = 0.01) -> int | None:
    """Tasks running or ready to run, this process included, as the median of a few looks
    at /proc/loadavg (Linux) a few milliseconds apart; None where there is no /proc."""
    import statistics
    import time

    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                counts.append(int(handle.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(gap)
    return int(statistics.median(counts))


def busy_cores() -> float:
    """Cores other processes keep busy: the tasks runnable now besides this one, or the
    1-minute load average where that cannot be seen. The average lags by a minute both
    ways: a job that has just ended still counts (a command run right after another would
    take too few threads), and two jobs started together count each other as nothing (both
    would take every core and slow each other down 10x)."""
    now = runnable_now()
    if now is not None:
        return float(max(0, now - 1))
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def default_threads(cores: int | None = None, busy: float | None = None) -> int:
    """The cores left free by other processes (at least 1, at most the affinity mask),
    shared among the processes torchrun started on this machine."""
    cores = usable_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    free = max(1, min(cores, cores - round(busy)))
    return max(1, free // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)))


def env_threads() -> int | None:
    """OMP_NUM_THREADS when it holds a positive integer (torch reads it at import)."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def choose_threads(given: int | None) -> ThreadChoice:
    """--threads wins, then OMP_NUM_THREADS, then default_threads()."""
    cores = usable_cores()
    if given is not None:
        if given < 1:
            raise ConfigError(f"--threads {given} must be at least 1")
        return ThreadChoice(given, cores, "--threads")
    from_env = env_threads()
    if from_env is not None:
        return ThreadChoice(from_env, cores, "OMP_NUM_THREADS")
    busy = busy_cores()
    return ThreadChoice(default_threads(cores, busy), cores, "default", busy)


def apply_threads(n: int) -> None:
    """torch's intra-op threads, and its inter-op pool where torch still allows (once per
    process, before any parallel work)."""
    import torch

    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(n)


@contextlib.contextmanager
def command_threads(given: int | None):
    """Run one command with its threads; yields the ThreadChoice. The previous count comes
    back afterwards, for commands run in-process (the API, tests). OMP_NUM_THREADS alone
    is left to torch, which has read it. A command that has not imported torch yet (and
    may never: `data check`) gets the count as OMP_NUM_THREADS for torch to read on import,
    so choosing threads costs no torch import."""
    choice = choose_threads(given)
    if choice.source == "OMP_NUM_THREADS":
        yield choice
        return
    if "torch" not in sys.modules:
        os.environ["OMP_NUM_THREADS"] = str(choice.threads)
        try:
            yield choice
        finally:
            del os.environ["OMP_NUM_THREADS"]
        return
    import torch

    before = torch.get_num_threads()
    apply_threads(choice.threads)
    try:
        yield choice
    finally:
        torch.set_num_threads(before)
