"""Another process holding a folder's lock (:func:`rundir.files.folder_lock`), for the tests of what a second
writer meets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOLD = ("import sys; from pathlib import Path; from rundir.files import folder_lock\n"
        "with folder_lock(Path(sys.argv[1])):\n print('held', flush=True)\n sys.stdin.read()")


def lock_holder(folder: Path) -> subprocess.Popen:
    """A child process that holds ``folder``'s lock until its stdin closes (``communicate``) or it is killed;
    returned once it holds it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    if holder.stdout.readline() != "held\n":
        holder.kill()
        raise RuntimeError(f"the lock holder did not take {folder}'s lock")
    return holder
