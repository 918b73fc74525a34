"""The paper configurations' checks, run beside the rest of the suite.

Each group of `benchmarks.paper_configs.job_groups` is one process of tens of
seconds to minutes (20 minutes in all here). The rest of the suite keeps about
1.3 of this machine's 2 cores busy (imports, tracing and servers are mostly one
thread), so the groups start in the background as the session starts and use
what it leaves: at the lowest CPU priority (the suite's own processes, and the
timeouts its tests have, keep the cores they had), one group at a time, and only
while enough memory is free. The memory guard is what makes this safe on a
machine without swap:

- a group starts only while `MemAvailable` covers its peak (`paper_configs.PEAK_GIB`,
  measured) and what the rest of the suite may still add (`SUITE_GROWTH_GIB`); the
  first pending group that fits goes first, so the heavy ones run early, while the
  suite is small;
- its process is the kernel's first choice if memory still runs out
  (`oom_score_adj` 1000), so the suite's own processes are never the ones killed;
- a group whose background process was killed by a signal runs again, in the
  foreground, once a test asks for it.

Once a test asks for a row's result, nothing else of the suite is running: the
rest of the groups run at once, at normal priority and without the memory guard,
as they would without this module.
"""

import tempfile
import threading

from benchmarks import paper_configs

# What the rest of the suite's processes may still add while a group runs. Measured in a
# whole run with the paper rows in sequence, outside their part (23.4 GiB here): 1.5 to 4.5
# GiB in use in the first 13 minutes, about 8.5 from then on, 13.4 at the fullest (the
# video jobs, at the end).
# A group that starts after the first minutes fits beside everything; the heaviest,
# started in the first minutes, end long before the video jobs.
SUITE_GROWTH_GIB = 7.0
POLL_SECONDS = 5.0


def available_gib():
    """The kernel's estimate of memory that can be had without swapping (Linux's
    `MemAvailable`); 0 where it is not known, so that no group starts early."""
    available = paper_configs.proc_gib("/proc/meminfo", "MemAvailable")
    return 0.0 if available is None else available


class BackgroundChecks:
    """`result(label)` of any row of `groups`, each group run once by one thread
    started on construction.

    Args:
        groups: `[[label, ...], ...]`, the rows of each process, in the order to run them.
        folder: where each group's scratch folder is made.
        run_group: `(labels, folder, background, started) -> {label: (result, output)}`
            runs a group (`background`: at low priority; `started(process)` is given
            its process, for `stop`).
        need_gib: `(labels) -> GiB`, a group's peak resident memory.
        growth_gib: how much the rest of the suite may still grow while a group runs:
            a group starts in the background while free memory covers both.
    """

    def __init__(self, groups, folder, run_group=None, need_gib=None, growth_gib=SUITE_GROWTH_GIB):
        self._groups = [list(labels) for labels in groups]
        self._folder = folder
        self._run_group = run_group or _run_group
        self._need_gib = need_gib or paper_configs.group_peak_gib
        self._growth_gib = growth_gib
        self._results = {}
        self._done = [threading.Event() for _ in self._groups]
        self._asked = threading.Event()  # a test is waiting: run everything now
        self._stopped = threading.Event()
        self._process = None
        self.ran_in_background = []  # labels of the groups that ran beside the suite
        self.killed_in_background = []  # labels of the groups run again after a kill
        self._thread = threading.Thread(target=self._run, name="paper-config-checks", daemon=True)
        self._thread.start()

    def result(self, label):
        """`(result dict, the process's output)` of `label`'s row, waiting for its group."""
        index = next(i for i, labels in enumerate(self._groups) if label in labels)
        self._asked.set()
        self._done[index].wait()
        return self._results[label]

    def stop(self):
        """Ends the thread and kills the running group's process (the session is ending)."""
        self._stopped.set()
        self._asked.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        self._thread.join(timeout=30)

    def _next(self, pending, killed):
        """The group to run now: the first pending once a test asks; before, the
        first whose memory is free (never one already killed for memory)."""
        if self._asked.is_set():
            return pending[0]
        free = available_gib() - self._growth_gib
        return next((i for i in pending if i not in killed and self._need_gib(self._groups[i]) <= free), None)

    def _run(self):
        pending, killed = list(range(len(self._groups))), set()
        while pending and not self._stopped.is_set():
            index = self._next(pending, killed)
            if index is None:
                self._asked.wait(POLL_SECONDS)
                continue
            pending.remove(index)
            labels, background = self._groups[index], not self._asked.is_set()
            try:
                found = self._run_group(labels, self._group_folder(labels), background, self._started)
            except Exception as err:  # the group's tests fail with it; none waits forever
                error = {"error": f"the background checks failed: {type(err).__name__}: {err}"}
                found = {label: ({"float32": error, "mixed": {}}, "") for label in labels}
            else:
                if background and _killed(found) and not self._stopped.is_set():
                    killed.add(index)  # runs again once a test asks, in the foreground
                    pending.insert(0, index)
                    self.killed_in_background.extend(labels)
                    continue
                if background:
                    self.ran_in_background.extend(labels)
            self._results.update(found)
            self._done[index].set()
        for index, event in enumerate(self._done):  # stopped: nobody waits for the rest
            if not event.is_set():
                self._results.update(
                    {label: ({"float32": {"error": "stopped"}, "mixed": {}}, "") for label in self._groups[index]}
                )
                event.set()

    def _started(self, process):
        self._process = process

    def _group_folder(self, labels):
        return tempfile.mkdtemp(prefix=paper_configs.slug(labels[0]) + "-", dir=self._folder)


def _killed(found):
    """True when a group's process ended by a signal (the OOM killer's is SIGKILL)."""
    return any(result.get("signal") for result, _ in found.values())


def _run_group(labels, folder, background, started):
    found, output = paper_configs.check_in_subprocess(labels, folder, background=background, started=started)
    return {label: (found[label], output) for label in labels}
