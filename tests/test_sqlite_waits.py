"""SQLite's write lock is waited for cooperatively: a worker's other greenlets keep running."""
import subprocess
import sys
import textwrap

import pytest

from helpers import ROOT

HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""

WAITER = """
from gevent import monkey; monkey.patch_all()
import sys, time, gevent
sys.path.insert(0, sys.argv[2])
import database, models
database.db.initialize(database.open_database("sqlite:///" + sys.argv[1],
                                            lock_wait_seconds=float(sys.argv[3])))
ticks = []
ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(1000)])
started = time.monotonic()
try:
    with database.db.atomic():
        models.Setting.insert(name="probe", value="x").execute()
    outcome = "written"
except database.OperationalError as error:
    outcome = str(error)
print(outcome, round(time.monotonic() - started, 2), len(ticks))
"""


def wait_for_lock(path, held_for, patience):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(held_for)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    waiter = subprocess.run([sys.executable, "-c", textwrap.dedent(WAITER), str(path), str(ROOT),
                             str(patience)], capture_output=True, text=True, timeout=30)
    holder.wait(10)
    assert waiter.returncode == 0, waiter.stderr
    outcome, waited, ticks = waiter.stdout.rsplit(" ", 2)
    return outcome, float(waited), int(ticks)


@pytest.fixture
def sqlite_file(app, database):
    if not database.startswith("sqlite"):
        pytest.skip("SQLite's write lock; this run is on PostgreSQL")
    return database[len("sqlite:///"):]


def test_a_writer_waits_for_the_lock_while_other_greenlets_run(sqlite_file):
    outcome, waited, ticks = wait_for_lock(sqlite_file, held_for=1.5, patience=10)
    assert outcome == "written"
    assert waited >= 0.5
    assert ticks >= 30  # SQLite's own busy handler would have frozen the ticker for the whole wait


def test_a_writer_gives_up_after_its_patience(sqlite_file):
    outcome, waited, _ = wait_for_lock(sqlite_file, held_for=3, patience=0.3)
    assert "locked" in outcome and waited < 1.5
