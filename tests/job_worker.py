"""The Celery app of the kill tests (tests/mutualaid/test_job_kills.py): the portal's own app, with a
pause at one point of each job kind on its first attempt, so a test can SIGKILL the pool child in the
middle of the work. It is a test harness only: `celery -A tests.job_worker worker`.

The pause writes the child's pid to $KILL_DIR/<kind> and sleeps until it is killed; the attempt
that finds the file there (the one after the kill) runs through.
"""
import functools
import os
import time
from pathlib import Path

from celery.signals import worker_process_init

from mutualaid.celery import app  # noqa: F401 - the app this module serves

PAUSE_SECONDS = 120


def _pause_once(kind: str) -> None:
    marker = Path(os.environ["KILL_DIR"]) / kind
    if marker.exists():
        return
    marker.write_text(str(os.getpid()))
    time.sleep(PAUSE_SECONDS)  # the test kills this process here


def _pausing(kind: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        _pause_once(kind)
        return function(*args, **kwargs)

    return wrapper


@worker_process_init.connect
def _install_pauses(**_kwargs):
    from mutualaid import exports
    from rosters import validation
    from rosters.importer import service as importer_service
    from rosters.reference import loader

    # import: after the file was read and every row checked, before the look-ups and the write
    importer_service._look_up = _pausing("import", importer_service._look_up)
    # reference load: after its first chunk went into the staging table, before the swap
    loader._chunk_write = _pausing("reference", loader._chunk_write)

    # validation: after its first rule reported progress
    real_validate = validation.validate_roster

    def validate_roster(*, batch, progress):
        def pausing_progress(done, total):
            progress(done, total)
            _pause_once("validation")

        return real_validate(batch=batch, progress=pausing_progress)

    validation.validate_roster = validate_roster

    # export: after its first rows were written
    real_done = exports.Progress.done

    def done(self, rows_done, *, force=False):
        real_done(self, rows_done, force=force)
        if rows_done >= 100:
            _pause_once("export")

    exports.Progress.done = done
