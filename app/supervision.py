"""Server worker processes die with their parent: a `rag serve --workers N` killed with SIGKILL leaves no orphans.

uvicorn's supervisor cannot clean up after a SIGKILL, and its workers would go on serving the port (and answer
/readyz) while the next `rag serve` fails with "Address already in use". `rag serve` names itself in
WORKER_PARENT_ENV; a worker whose parent is that process asks Linux to send it SIGTERM when the parent dies
(prctl PR_SET_PDEATHSIG), and shuts down as it would on any SIGTERM.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

log = logging.getLogger("app")
WORKER_PARENT_ENV = "RAG_SERVE_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """In a worker of `rag serve`, arrange SIGTERM on the parent's death; True when arranged."""
    expected = os.environ.get(WORKER_PARENT_ENV, "")
    if not expected.isdigit() or not sys.platform.startswith("linux"):
        return False
    if os.getpid() == int(expected):
        return False  # the supervisor itself (one worker runs in-process)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError) as exc:
        log.warning("worker %d will not follow its parent's death: %s", os.getpid(), exc)
        return False
    if os.getppid() != int(expected):  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
    return True
