"""Run every benchmark in scripts/bench/ in turn; each prints its figures and comparison.

Usage: ``python scripts/bench/run_all.py [--quick]`` (``--quick``: smaller sizes, for a
smoke run; the issues' targets are stated for the full sizes).
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = [
    ("bench_import.py", []),
    ("bench_activation.py", []),
    ("bench_pages.py", []),
    ("bench_coverage.py", []),
    ("bench_toilet_page.py", []),
    ("bench_permissions.py", []),
    ("bench_deadlines.py", []),
    ("bench_bulletin.py", []),
    ("bench_transitions.py", []),
    ("bench_public.py", []),
    ("bench_one_report.py", []),
]
QUICK = {"bench_import.py": ["--issues", "100000"], "bench_activation.py": ["--issues", "100000"],
         "bench_pages.py": ["--sizes", "10000,100000"],
         "bench_toilet_page.py": ["--repeat", "2"],
         "bench_permissions.py": ["--issues", "100000", "--repeat", "5"],
         "bench_deadlines.py": ["--rows", "100000"],
         "bench_bulletin.py": ["--cases", "100000", "--repeat", "3"],
         "bench_transitions.py": ["--cases", "100000", "--seconds", "30"],
         "bench_public.py": ["--issues", "10000", "--seconds", "15"],
         "bench_one_report.py": ["--reports", "50"]}


def main():
    quick = "--quick" in sys.argv[1:]
    failed = []
    for script, args in FULL:
        if quick:
            args = QUICK.get(script, args)
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
