"""Benchmark: workflow transitions under load (target: p99 ≤ 30 ms per transition).

On the generated case history of ``bench_bulletin.py`` (its :func:`build`: N cases,
default 1,000,000, reported over the last year with their steps), ``--clients``
concurrent clients (default 20; threads, each with its own connection pool, as the web
server's threads are) take workflow steps through :func:`geo.cases.workflow.act` for
``--seconds`` (default 40) per run: the permission check, the case's lock, the
``UPDATE`` (and with it the tally triggers), the history row and the audit entry, each
step in its own transaction, as a page or ``civgrid cases`` takes them.

Each client owns a disjoint set of cases (open ones, as the work is; closed ones only
when too few are open) and moves each along the loop
(file → dispatch → accept → feed back → send to check → close → reopen → …), acting as
the command centre for the command's steps and as the department for the department's.

Two runs, each printing throughput and p50 / p95 / p99 latency, overall and per step:

- *saturating*: every client takes its next step as soon as the last one returned (no
  pause). On 2 cores this measures throughput: the latency is about clients ÷ throughput.
- *paced* (``--rate``, default 100 steps per second in all, about fifty times a busy
  district's peak): each client steps on a fixed schedule and a step's latency counts
  from when it was due, so a step kept waiting behind a slow one counts its wait. The
  target is judged on this run; ``--rate 0`` skips it and judges the saturating one.

Usage: ``python scripts/bench/bench_transitions.py [--cases 1000000] [--clients 20]
[--seconds 40] [--rate 100] [--reuse]``.
"""

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

from bench_bulletin import database  # noqa: E402
from geo.cases import workflow  # noqa: E402
from geo.people.audit import Actor  # noqa: E402
from geo.people.permissions import Principal  # noqa: E402
from geo.store import db as geo_db  # noqa: E402

TARGET_P99_MS = 30.0
DEPARTMENT = "区城管局"
#: The next step of a case in each status, along the loop (and back round by reopen).
NEXT = {"reported": "file", "filed": "dispatch", "returned": "dispatch",
        "dispatched": "accept", "rework": "accept", "processing": "feed_back",
        "fed_back": "send_to_check", "checking": "close", "closed": "reopen",
        "suspended": "resume"}
CASES_PER_CLIENT = 200


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def pick_cases(db, clients):
    """Cases in a status with a next step, for each client a disjoint list:
    ``[[(id, status)]]``. Open cases first, as the work is (a reopen is about 1 % of the
    steps a district takes); closed ones only when too few are open. Dispatched cases
    are taken only when they went to :data:`DEPARTMENT`, so the department may accept
    them."""
    want = clients * CASES_PER_CLIENT
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT id, status FROM issues WHERE status = ANY(%s)"
            " AND (department IS NULL OR department = %s) AND status <> 'suspended'"
            " ORDER BY status = 'closed', random() LIMIT %s", (list(NEXT), DEPARTMENT, want))
    random.shuffle(rows)
    return [rows[k::clients] for k in range(clients)]


def client(dsn, cases, stop, out, errors, index, interval=None):
    """One client: steps its cases until ``stop``. ``interval`` (s): paced, one step per
    interval on a fixed schedule, and a step's latency counts from when it was due (a
    step that waits behind a slow one is late by the wait); ``None``: the next step as
    soon as the last one returned."""
    db = geo_db.Database(dsn, maxconn=2)
    command = Principal(f"bench_command_{index}", roles=("command",))
    department = Principal(f"bench_dept_{index}", roles=("department",),
                           departments=(DEPARTMENT,))
    actors = {p: Actor(p.login) for p in (command, department)}
    status = dict(cases)
    ids = list(status)
    k = 0
    due = time.perf_counter() + (interval or 0) * random.random()
    try:
        while not stop.is_set() and ids:
            case = ids[k % len(ids)]
            k += 1
            step = NEXT[status[case]]
            who = department if workflow.STEPS[step].who != "command" else command
            if interval:
                wait = due - time.perf_counter()
                if wait > 0 and stop.wait(wait):
                    break
                start, due = due, due + interval
            else:
                start = time.perf_counter()
            try:
                status[case] = workflow.act(db, case, step, actors[who], who,
                                            department=DEPARTMENT, note="基准测试")
            except workflow.Refused as exc:  # a case the generator left in a corner
                errors.append(exc.render())
                ids.remove(case)
                continue
            out.append((step, time.perf_counter() - start))
    finally:
        db.close()


def server_cpu(db):
    """CPU seconds used so far by the server processes of the benchmark's database (from
    /proc: the cluster runs on this machine), or None where they cannot be read."""
    with db.transaction() as tx:
        pids = [r[0] for r in tx.fetchall("SELECT pid FROM pg_stat_activity"
                                          " WHERE datname = current_database()")]
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick if pids else None


def run(dsn, per_client, seconds, rate=None, db=None):
    """Run the clients for ``seconds``; ``rate``: steps per second in all, paced.
    Returns ``(samples, elapsed, errors, cpu)``, ``cpu`` being the CPU seconds the
    server's backends and this process used (``None`` for the server where unknown)."""
    clients = len(per_client)
    interval = clients / rate if rate else None
    stop, errors = threading.Event(), []
    results = [[] for _ in range(clients)]
    threads = [threading.Thread(target=client, args=(dsn, per_client[i], stop, results[i],
                                                     errors, i, interval))
               for i in range(clients)]
    began, client0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    time.sleep(1.0)  # the clients' sessions are open: count their backends from here
    server0 = server_cpu(db) if db else None
    time.sleep(max(0.0, seconds - 1.0))
    server1 = server_cpu(db) if db and server0 is not None else None
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    # the server's CPU is counted over seconds - 1 of the run: scale it to the whole
    server = (server1 - server0) * elapsed / (seconds - 1.0) if server1 is not None else None
    return ([s for r in results for s in r], elapsed, errors,
            (server, time.process_time() - client0))


def report(title, samples, elapsed, errors, cpu):
    """Print the figures of one run; returns its p99 (ms)."""
    if not samples:
        sys.exit("no transition was made: " + "; ".join(errors[:3]))
    ms = [1000 * d for _s, d in samples]
    p50, p95, p99 = (percentile(ms, p) for p in (50, 95, 99))
    print(f"\n{title}: {len(samples):,} transitions in {elapsed:.1f} s, "
          f"{len(samples) / elapsed:.0f} per second")
    print(f"  latency ms: p50 {p50:.1f}, p95 {p95:.1f}, p99 {p99:.1f}, "
          f"max {max(ms):.1f}, mean {statistics.fmean(ms):.1f}")
    by_step = {}
    for step, d in samples:
        by_step.setdefault(step, []).append(1000 * d)
    for step, values in sorted(by_step.items(), key=lambda kv: -len(kv[1])):
        print(f"  {step:<15} {len(values):7,}  p50 {percentile(values, 50):6.1f}"
              f"  p99 {percentile(values, 99):6.1f}")
    server, client_cpu = cpu
    if server is not None:
        per_step = 1000 * (server + client_cpu) / len(samples)
        print(f"  CPU per step: server {1000 * server / len(samples):.2f} ms, benchmark "
              f"client {1000 * client_cpu / len(samples):.2f} ms: 2 idle cores could take "
              f"about {2000 / per_step:.0f} steps/s (load average "
              f"{os.getloadavg()[0]:.1f})")
    if errors:
        print(f"  {len(errors)} case(s) refused and set aside, e.g. {errors[0]}")
    return p99


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rate", type=float, default=100.0,
                        help="steps per second in all of the paced run (0: no paced run)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--reuse", action="store_true",
                        help="use the database a previous run (of this benchmark or "
                             "bench_bulletin.py, same --cases) built")
    args = parser.parse_args()
    dsn, db = database(args.workdir, args.cases, args.reuse)

    print(f"{args.clients} clients over {args.cases:,} cases, {args.seconds:.0f} s per run")
    saturated = report(f"saturating: {args.clients} clients, no pause between steps",
                       *run(dsn, pick_cases(db, args.clients), args.seconds, db=db))
    if not args.rate:
        verdict = "meets" if saturated <= TARGET_P99_MS else "MISSES"
        print(f"  p99 {saturated:.1f} ms (target ≤ {TARGET_P99_MS:.0f} ms: {verdict})")
        sys.exit(0 if saturated <= TARGET_P99_MS else 1)
    paced = report(f"paced: {args.clients} clients, {args.rate:.0f} steps per second in all",
                   *run(dsn, pick_cases(db, args.clients), args.seconds, args.rate, db))
    verdict = "meets" if paced <= TARGET_P99_MS else "MISSES"
    print(f"\n  p99 {paced:.1f} ms paced at {args.rate:.0f} steps/s (target ≤ "
          f"{TARGET_P99_MS:.0f} ms: {verdict}); saturating p99 {saturated:.1f} ms", flush=True)
    if paced > TARGET_P99_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
