"""Day resolution + TPP for a whole city-month, then ten times the employees.

    python bench/tpp.py [--employees 6000] [--opd 40] [--month 2026-11]

Generates a city (employees across OPDs) and a month of punches with realistic lateness, early leave,
absences, leave and duty orders, then times the pure rules (no I/O): resolve every working day and
compute every employee's TPP. Baseline in the same run: the same city at 1x, against which the 10x run's
time is compared (linear scaling = ratio 10). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.payroll.policy_file import load_policy  # noqa: E402
from hub.tpp.compute import compute_tpp  # noqa: E402
from hub.tpp.resolve import Employee, Excuse, Punch, holiday_set, is_working_day, month_days, resolve_month  # noqa: E402


def city(n: int, opds: int, month: str, seed: int = 7):
    rng = random.Random(seed)
    policy = load_policy()
    tz = ZoneInfo(policy.timezone)
    days = month_days(month)
    hols = holiday_set(policy, {days[0].year})
    out = []
    for i in range(n):
        emp = Employee(f"{198000000000000000 + i}", f"Pegawai {i}", rng.randrange(3_000_000, 9_000_000, 1000),
                       f"OPD{i % opds:02d}")
        punches, excuses = [], []
        if rng.random() < 0.08:  # some leave
            start = rng.choice(days)
            excuses.append(Excuse("leave", start, start + timedelta(days=rng.randint(0, 3)), "tahunan"))
        if rng.random() < 0.05:  # some duty orders
            start = rng.choice(days)
            excuses.append(Excuse("duty", start, start + timedelta(days=rng.randint(0, 2)), "SPT"))
        habit = rng.random()  # some people are habitually late
        for day in days:
            if not is_working_day(policy, emp, day, hols) or rng.random() < 0.03:  # 3 % absent
                continue
            late = rng.expovariate(1 / (25 if habit > 0.8 else 6)) - 5
            arrive = datetime.combine(day, dtime(7, 30), tz) + timedelta(minutes=late)
            end = dtime(16, 30) if day.weekday() == 4 else dtime(16, 0)
            leave = datetime.combine(day, end, tz) + timedelta(minutes=rng.gauss(10, 20))
            punches.append(Punch(arrive))
            if rng.random() < 0.2:  # a second walk-past in the morning
                punches.append(Punch(arrive + timedelta(minutes=rng.randint(1, 90))))
            if rng.random() > 0.04:  # 4 % forget to check out
                punches.append(Punch(leave))
        out.append((emp, punches, excuses))
    return policy, out


def run(policy, people, month: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    days = zeroed = 0
    for emp, punches, excuses in people:
        resolved = resolve_month(policy, emp, month, punches, excuses)
        result = compute_tpp(policy, emp, month, resolved)
        days += len(resolved)
        zeroed += result.zeroed
    return time.perf_counter() - started, days, zeroed


def main() -> None:
    ap = argparse.ArgumentParser(description="TPP engine throughput for a city-month.")
    ap.add_argument("--employees", type=int, default=6000)
    ap.add_argument("--opd", type=int, default=40)
    ap.add_argument("--month", default="2026-11")
    args = ap.parse_args()
    results = {}
    for factor in (1, 10):
        n = args.employees * factor
        t0 = time.perf_counter()
        policy, people = city(n, args.opd, args.month)
        gen = time.perf_counter() - t0
        punches = sum(len(p) for _, p, _ in people)
        seconds, days, zeroed = run(policy, people, args.month)
        results[factor] = {"employees": n, "punches": punches, "days": days, "seconds": seconds,
                           "ms_per_employee": seconds * 1000 / n, "zeroed": zeroed}
        print(f"{n:,} employees, {punches:,} punches, {days:,} working days resolved: {seconds:.2f} s "
              f"({seconds * 1000 / n:.2f} ms per employee-month; {zeroed} zeroed) [generated in {gen:.1f} s]",
              flush=True)
    ratio = results[10]["seconds"] / results[1]["seconds"]
    print(f"10x employees took {ratio:.1f}x the time of the 1x baseline (10 = linear)")
    print(json.dumps({"month": args.month, "employees": args.employees, "seconds_1x": results[1]["seconds"],
                      "seconds_10x": results[10]["seconds"], "ms_per_employee_1x": results[1]["ms_per_employee"],
                      "ms_per_employee_10x": results[10]["ms_per_employee"], "ratio_10x_to_1x": ratio,
                      "days_1x": results[1]["days"], "punches_1x": results[1]["punches"]}))


if __name__ == "__main__":
    main()
