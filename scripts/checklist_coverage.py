"""How much of the security checklist has a test: ``make``-free, stdlib only.

    python scripts/checklist_coverage.py [CHECKLIST] [--section N ...] [--run]

Reads the checklist (default: ``../shared/cases/security-checklist.md`` next
to the repository), collects every row ID (``OIDF-02``, ``PKCE-07`` ...), and
finds the test functions in ``tests/*.py`` named after a row: the ID
lowercased with ``-`` as ``_``, at the start (``test_oidf_02_...``) or
between underscores (``test_rev_03_rev_04_...``). Rows listed in
``tests/checklist_not_applicable.toml`` (``ID = "reason"``) count as N/A.

Without ``--run`` nothing is executed. With ``--run`` the matched tests run
once under pytest (``-q -rA``); a row then counts as passing when at least
one of its test functions passed in every parametrisation, and rows with any
failing test are listed.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CHECKLIST = REPO.parent / "shared" / "cases" / "security-checklist.md"
TESTS = REPO / "tests"
NOT_APPLICABLE = TESTS / "checklist_not_applicable.toml"

_SECTION = re.compile(r"^##\s+(\d+)\.")
_ROW = re.compile(r"^\|\s*\d+\s*\|\s*([A-Z][A-Z0-9]*-\d+)\s*\|")
_RESULT = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\s+(\S+)")


@dataclass(frozen=True)
class Row:
    """One checklist row: its ID and the section it is in."""

    id: str
    section: int

    @property
    def stem(self) -> str:
        """The ID as it appears in test names: ``OIDF-02`` -> ``oidf_02``."""
        return self.id.lower().replace("-", "_")


@dataclass
class Coverage:
    """Which test functions (``path::name``) each row has."""

    tests: dict[str, list[str]] = field(default_factory=dict)


def read_rows(checklist: Path) -> list[Row]:
    """Every row ID of the checklist, in order, each with its section."""
    rows: list[Row] = []
    seen: set[str] = set()
    section = 0
    for line in checklist.read_text(encoding="utf-8").splitlines():
        heading = _SECTION.match(line)
        if heading:
            section = int(heading.group(1))
            continue
        row = _ROW.match(line)
        if row and row.group(1) not in seen:
            seen.add(row.group(1))
            rows.append(Row(row.group(1), section))
    return rows


def test_functions(tests_dir: Path) -> list[str]:
    """``tests/FILE.py::test_name`` for every test function, classes included."""
    found: list[str] = []
    for path in sorted(tests_dir.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        prefix = path.relative_to(tests_dir.parent).as_posix()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("test_"):
                    found.append(f"{prefix}::{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for item in node.body:
                    if isinstance(
                        item, ast.FunctionDef | ast.AsyncFunctionDef
                    ) and item.name.startswith("test_"):
                        found.append(f"{prefix}::{node.name}::{item.name}")
    return found


def names_row(test_id: str, row: Row) -> bool:
    """Whether the test function's name carries the row's ID."""
    name = test_id.rsplit("::", 1)[-1]
    stem = row.stem
    return (
        name.startswith(f"test_{stem}_")
        or f"_{stem}_" in name
        or name.endswith(f"_{stem}")
    )


def match(rows: Iterable[Row], tests: Sequence[str]) -> Coverage:
    coverage = Coverage()
    for row in rows:
        coverage.tests[row.id] = [test for test in tests if names_row(test, row)]
    return coverage


def read_not_applicable(path: Path) -> dict[str, str]:
    """``ID = "reason"`` lines; a missing file means no row is N/A."""
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    return {str(key): str(value) for key, value in document.items()}


def run_tests(tests: Sequence[str]) -> dict[str, bool]:
    """Run ``tests`` once; True per test function that passed in every case."""
    if not tests:
        return {}
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, *tests],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    verdicts: dict[str, bool] = {}
    for line in done.stdout.splitlines():
        result = _RESULT.match(line)
        if result is None:
            continue
        word, node = result.groups()
        if "::" not in node:  # "SKIPPED [1] file:line: reason"
            continue
        function = node.split("[", 1)[0]
        passed = word in ("PASSED", "XPASS")
        verdicts[function] = verdicts.get(function, True) and passed
    if not verdicts:
        print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
    return verdicts


def outcome(tests: Sequence[str], verdicts: dict[str, bool]) -> str:
    """``pass``, ``partial``, ``fail`` or ``unrun`` for one row's tests."""
    seen = [verdicts[test] for test in tests if test in verdicts]
    if not seen:
        return "unrun"
    if all(seen):
        return "pass"
    return "partial" if any(seen) else "fail"


def report(
    rows: Sequence[Row],
    coverage: Coverage,
    not_applicable: dict[str, str],
    verdicts: dict[str, bool] | None,
) -> list[str]:
    """The printed summary, one line per item."""
    with_test = [row for row in rows if coverage.tests[row.id]]
    na = [row for row in rows if row.id in not_applicable]
    uncovered = [
        row
        for row in rows
        if not coverage.tests[row.id] and row.id not in not_applicable
    ]
    lines = [
        f"rows total:          {len(rows)}",
        f"rows with a test:    {len(with_test)}",
    ]
    if verdicts is not None:
        status = {
            row.id: outcome(coverage.tests[row.id], verdicts) for row in with_test
        }
        passing = [row for row in with_test if status[row.id] in ("pass", "partial")]
        clean = [row for row in with_test if status[row.id] == "pass"]
        failing = [row for row in with_test if status[row.id] in ("partial", "fail")]
        unrun = [row for row in with_test if status[row.id] == "unrun"]
        lines.append(f"rows with a passing test: {len(passing)}")
        lines.append(f"rows whose tests all pass: {len(clean)}")
        lines.append(
            f"rows with a failing test: {len(failing)}"
            + (f" ({', '.join(row.id for row in failing)})" if failing else "")
        )
        if unrun:
            lines.append(
                f"rows whose tests did not run (skipped?): {len(unrun)} "
                f"({', '.join(row.id for row in unrun)})"
            )
    both = [row.id for row in na if coverage.tests[row.id]]
    lines.append(
        f"rows listed N/A:     {len(na)}"
        + (f" (of which with a test too: {', '.join(both)})" if both else "")
    )
    unknown = sorted(set(not_applicable) - {row.id for row in rows})
    if unknown:
        lines.append(f"N/A entries that are not rows: {', '.join(unknown)}")
    lines.append(f"rows not covered:    {len(uncovered)}")
    for section in sorted({row.section for row in uncovered}):
        ids = [row.id for row in uncovered if row.section == section]
        lines.append(f"  section {section}: {', '.join(ids)}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checklist", nargs="?", type=Path, default=DEFAULT_CHECKLIST)
    parser.add_argument(
        "--section",
        type=int,
        action="append",
        default=[],
        help="count only rows of this section (repeatable; default: all)",
    )
    parser.add_argument(
        "--run", action="store_true", help="run the matched tests and count passes"
    )
    args = parser.parse_args(argv)

    rows = read_rows(args.checklist)
    if args.section:
        rows = [row for row in rows if row.section in args.section]
    if not rows:
        print(f"no checklist rows found in {args.checklist}", file=sys.stderr)
        return 1
    coverage = match(rows, test_functions(TESTS))
    not_applicable = read_not_applicable(NOT_APPLICABLE)

    verdicts: dict[str, bool] | None = None
    if args.run:
        wanted = sorted({test for tests in coverage.tests.values() for test in tests})
        verdicts = run_tests(wanted)

    print("\n".join(report(rows, coverage, not_applicable, verdicts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
