"""Leases on a study's model numbers, so that processes sharing its directory never run one twice.

Before a study process trains, post-processes or evaluates `model_num`, it claims it by
creating `<output_dir>/<model_num>/claim.json` exclusively (`O_CREAT | O_EXCL`): holder id,
host, pid, start time. While it works, a thread refreshes the lease's heartbeat (its
modification time) every `heartbeat_seconds`; when it is done it removes the lease. Another
process that finds a lease skips that model number, unless the heartbeat is older than
`timeout_seconds` (the holder crashed or was preempted): then it takes the lease over and
resumes from the checkpoint.

Takers of a stale lease serialise on a second exclusively created file (`_take_over`); a
process that loses a race skips the model.

Assumptions: exclusive create and rename are atomic on the file system (true on a local disk;
on NFS v3+ and Lustre/GPFS-style cluster file systems exclusive create is atomic; a plain
NFS v2 mount is not), and the hosts' clocks agree to well within `timeout_seconds` (NTP), since
staleness compares this host's clock with the file's modification time set by another.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid

logger = logging.getLogger(__name__)

LEASE_FILE = "claim.json"
#: Seconds between heartbeats, and after which a silent lease counts as abandoned.
HEARTBEAT_SECONDS = 30.0
TIMEOUT_SECONDS = 300.0


def lease_path(output_dir, model_num):
  return os.path.join(output_dir, str(model_num), LEASE_FILE)


def read_lease(path):
  """The lease's holder record, or None if there is no (readable) lease."""
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (FileNotFoundError, json.JSONDecodeError):
    return None


def _create(path, record):
  """Creates the lease exclusively; False if it already exists."""
  try:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
  except FileExistsError:
    return False
  with os.fdopen(fd, "w", encoding="utf-8") as f:
    json.dump(record, f)
    f.flush()
    os.fsync(f.fileno())
  return True


def _heartbeat_age(path):
  try:
    return time.time() - os.stat(path).st_mtime
  except FileNotFoundError:
    return None


def _take_over(path, record, timeout_seconds):
  """Replaces a stale lease by this process's; True if it now holds the model.

  Takers serialise on `<lease>.takeover` (created exclusively, held for a few file operations):
  the one holding it checks the staleness again, removes the stale lease and creates its own;
  the next one then finds a live lease. A takeover lock left by a process that died holding it
  is removed once it is older than the timeout.
  """
  lock = f"{path}.takeover"
  lock_age = _heartbeat_age(lock)
  if lock_age is not None and lock_age > timeout_seconds:
    with contextlib.suppress(FileNotFoundError):
      os.remove(lock)
  if not _create(lock, record):
    return False
  try:
    age = _heartbeat_age(path)
    if age is not None and age <= timeout_seconds:
      return False  # another taker was first, or the holder came back
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)
    return _create(path, record)
  finally:
    os.remove(lock)


class Lease:
  """A held claim: refreshes its heartbeat from a thread until `release()`."""

  def __init__(self, path, record, heartbeat_seconds):
    self.path, self.record = path, record
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._beat, args=(heartbeat_seconds,), daemon=True,
                                    name=f"lease-heartbeat-{os.path.basename(os.path.dirname(path))}")
    self._thread.start()

  def _beat(self, interval):
    while not self._stop.wait(interval):
      if (read_lease(self.path) or {}).get("holder") != self.record["holder"]:
        # This process stalled past the timeout and another took the model over: stop keeping
        # the new holder's lease alive (this process's own work on the model is not stopped).
        logger.warning("The lease %s was taken over by another process.", self.path)
        return
      with contextlib.suppress(FileNotFoundError):
        os.utime(self.path)

  def release(self):
    self._stop.set()
    self._thread.join()
    if (read_lease(self.path) or {}).get("holder") == self.record["holder"]:
      os.remove(self.path)


def try_claim(output_dir, model_num, timeout_seconds=TIMEOUT_SECONDS,
              heartbeat_seconds=HEARTBEAT_SECONDS):
  """A `Lease` on `model_num`, or None when another live process holds it."""
  if heartbeat_seconds >= timeout_seconds:
    raise ValueError(f"the heartbeat ({heartbeat_seconds} s) must be shorter than the lease timeout "
                     f"({timeout_seconds} s), or live leases would be taken over.")
  path = lease_path(output_dir, model_num)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  holder = uuid.uuid4().hex
  record = {"holder": holder, "host": socket.gethostname(), "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
  if _create(path, record):
    return Lease(path, record, heartbeat_seconds)
  age = _heartbeat_age(path)
  if age is None:  # released between our attempt and the check: try once more
    return Lease(path, record, heartbeat_seconds) if _create(path, record) else None
  if age <= timeout_seconds:
    return None
  stale = read_lease(path) or {}
  logger.warning("model %s: taking over the lease of %s (pid %s), silent for %.0f s.", model_num,
                 stale.get("host", "?"), stale.get("pid", "?"), age)
  return Lease(path, record, heartbeat_seconds) if _take_over(path, record, timeout_seconds) else None


@contextlib.contextmanager
def claim(output_dir, model_num, timeout_seconds=TIMEOUT_SECONDS, heartbeat_seconds=HEARTBEAT_SECONDS):
  """Context manager: yields a `Lease` (released on exit, also on an exception) or None."""
  lease = try_claim(output_dir, model_num, timeout_seconds, heartbeat_seconds)
  try:
    yield lease
  finally:
    if lease is not None:
      lease.release()
