"""Child process of the flood test: floods `Run.log_epoch` into a store until killed.

    python _flood_child.py STORE SIDE_LOG RUN_ID

After each `log_epoch` returns (so after its event was enqueued) it appends "epoch monotonic-time" to the side
log with one unbuffered write (a SIGKILL cannot lose what the kernel has), syncing it every 1,000 lines.
"""

from __future__ import annotations

import os
import sys
import time

from cnnprov_rdf.capture.tracker import Tracker

store, side_log, run_id = sys.argv[1], sys.argv[2], sys.argv[3]
tracker = Tracker(store)
run = tracker.start_run(run_id=run_id)
descriptor = os.open(side_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
epoch = 0
while True:
    epoch += 1
    run.log_epoch(epoch, {"loss": 1.0 / epoch, "accuracy": 1 - 1.0 / (epoch + 1)}, elapsed_seconds=0.001)
    os.write(descriptor, f"{epoch} {time.monotonic():.6f}\n".encode())
    if epoch % 1000 == 0:
        os.fsync(descriptor)
