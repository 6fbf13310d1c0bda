"""Mutation testing of the modules that carry guarantees (slow: not in CI).

Each group of modules is mutated by mutmut in a scratch copy of this work tree, running only the
test files that exercise it against ``SENTINEL_TEST_DATABASE_URL``; mutmut narrows that further,
per mutant, to the tests that reached the mutated function. It prints, per group and in total,
how many mutants were killed (a test failed or timed out) and how many survived, and lists the
survivors (``mutmut show NAME`` in the group's folder shows one).

    SENTINEL_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/mutation.py                  # every group
    .venv/bin/python bench/mutation.py search cache          # some of them
    .venv/bin/python bench/mutation.py --list                # the groups, their modules and tests
    .venv/bin/python bench/mutation.py --report              # figures of the runs made so far
    .venv/bin/python bench/mutation.py rollback-vectors \\
        --only 'sentinel_db.schema.rollback.x__plan_vectors__mutmut_*'   # some mutants only

The configuration shared by every group is ``[tool.mutmut]`` in pyproject.toml; this script only
swaps in each group's modules and test files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = Path(os.environ.get("SENTINEL_MUTATION_DIR", "/tmp/sentinel-mutation"))
PACKAGE = "src/sentinel_db"
# group: (modules mutated, test files run)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "search": (
        ["search/query.py", "search/glossary.py"],
        ["tests/test_search.py", "tests/test_glossary_phrases.py", "tests/test_query_parsing.py"],
    ),
    "versions": (["schema/data_versions.py"], ["tests/test_data_versions.py"]),
    "cache": (
        ["runtime/cache.py"],
        [
            "tests/test_cache_counts.py",
            "tests/test_cache_unmigrated.py",
            "tests/test_cache_dependencies.py",
            "tests/test_cache.py::test_a_warm_unit_of_work_costs_one_version_check_and_no_other_statement",
            "tests/test_cache.py::test_a_unit_of_work_that_lags_behind_neither_reads_nor_replaces_newer_entries",
            "tests/test_cache.py::test_writing_work_reads_its_own_rows_not_the_cache",
            "tests/test_cache.py::test_cached_records_cannot_be_changed_by_their_readers",
            "tests/test_cache.py::test_the_cache_stays_within_its_bounds_and_exact_under_a_long_random_workload",
        ],
    ),
    "validate": (
        ["importers/validate.py"],
        [
            "tests/test_import_optional_columns.py",
            "tests/test_import_bad_input.py",
            "tests/test_import_claims.py",
        ],
    ),
    "rollback": (["schema/rollback.py"], ["tests/test_rollback_plan.py", "tests/test_rollback.py"]),
    # The planning and CLI tests alone: minutes instead of an hour, the whole-schema check aside.
    "rollback-quick": (
        ["schema/rollback.py"],
        ["tests/test_rollback_plan.py", "tests/test_migrate_cli.py"],
    ),
    # The vector branch's rollback (pgvector: the embedded server the vector tests start).
    "rollback-vectors": (
        ["schema/rollback.py"],
        [
            "tests/vectors/test_vector_schema.py",
            "tests/vectors/test_vector_rollback.py",
            # Planning the vectors history where it was never applied needs no pgvector.
            "tests/test_rollback_plan.py::test_vectors_not_applied_plan_and_run_nothing",
        ],
    ),
    "access": (
        ["schema/access.py"],
        ["tests/test_access_migrate.py", "tests/test_rls.py", "tests/test_supabase.py"],
    ),
    "load": (
        ["importers/load.py"],
        [
            "tests/test_import_data.py",
            "tests/test_import_bad_input.py",
            "tests/test_import_optional_columns.py",
            "tests/test_import_claims.py",
            "tests/test_import_cli.py",
            "tests/test_import_stage.py",
        ],
    ),
}
_IGNORED = shutil.ignore_patterns(
    ".git", ".venv*", "mutants", "__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis"
)


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _prepare(group: str) -> Path:
    """A fresh copy of the work tree whose mutmut settings name only ``group``."""
    modules, tests = GROUPS[group]
    folder = SCRATCH / group
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT, folder, ignore=_IGNORED)
    pyproject = folder / "pyproject.toml"
    text = pyproject.read_text("utf-8")
    text = re.sub(
        r"only_mutate = \[[^\]]*\]",
        "only_mutate = " + _toml_list([f"{PACKAGE}/{m}" for m in modules]),
        text,
    )
    text = re.sub(
        r"pytest_add_cli_args_test_selection = \[[^\]]*\]",
        "pytest_add_cli_args_test_selection = " + _toml_list(tests),
        text,
    )
    pyproject.write_text(text, "utf-8")
    return folder


def _results(folder: Path) -> dict[str, str]:
    """Each mutant's status, as mutmut records it."""
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            found[name] = status
    return found


def run_group(group: str, *, children: int, only: list[str]) -> dict[str, str]:
    """Mutate ``group``'s modules and run its tests; each mutant's status.

    ``only`` (mutant names or ``fnmatch`` patterns) limits the run to those mutants; the rest
    stay "not checked".
    """
    folder = _prepare(group)
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(children), *only]
    subprocess.run(command, cwd=folder, check=False)
    return _results(folder)


def main(argv: list[str] | None = None) -> int:
    """Run the groups asked for and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", choices=[[], *GROUPS], default=[])
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only the mutants matching this name or fnmatch pattern (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="print the groups and stop")
    parser.add_argument(
        "--report", action="store_true", help="print the results of earlier runs, run nothing"
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, (modules, tests) in GROUPS.items():
            print(f"{name}: {', '.join(modules)} <- {', '.join(tests)}")
        return 0
    totals = {"killed": 0, "survived": 0, "other": 0}
    survivors: list[str] = []
    for group in args.groups or list(GROUPS):
        if args.report:
            if not (SCRATCH / group / "mutants").is_dir():
                continue
            statuses = _results(SCRATCH / group)
        else:
            statuses = run_group(group, children=args.children, only=args.only)
        killed = sum(s in ("killed", "timeout") for s in statuses.values())
        survived = sum(s == "survived" for s in statuses.values())
        other = len(statuses) - killed - survived
        totals["killed"] += killed
        totals["survived"] += survived
        totals["other"] += other
        survivors += [f"{group}: {n}" for n, s in statuses.items() if s == "survived"]
        rest = {s for s in statuses.values() if s not in ("killed", "timeout", "survived")}
        print(
            f"{group:10} mutants {len(statuses):5}  killed {killed:5}  survived {survived:5}"
            f"  other {other:4} {sorted(rest) if rest else ''}",
            flush=True,
        )
    tested = totals["killed"] + totals["survived"]
    print(
        f"{'total':10} killed {totals['killed']} / {tested}"
        f" ({100 * totals['killed'] / max(1, tested):.1f} %), other {totals['other']}"
    )
    for line in survivors:
        print("  survived", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
