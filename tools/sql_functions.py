#!/usr/bin/env python3
"""Print CREATE OR REPLACE FUNCTION statements for upgrade scripts.

    tools/sql_functions.py SCHEMA.NAME [...]

Reads the component files of the install script (COMPONENT_SQL in the
Makefile, in order) and prints, for each function named, every CREATE
FUNCTION statement of that name (all overloads) as CREATE OR REPLACE
FUNCTION, exactly as the component file has it, so an upgrade script
(kinesis_glue--<old>--<new>.sql) gets the same function text as a fresh
install (test/t/096_upgrade.pl compares them).  Paste the output into the
upgrade script and review it; the script itself is not run by the build.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def component_files():
    text = (ROOT / "Makefile").read_text()
    block = re.search(r"^COMPONENT_SQL\s*=\s*((?:.*\\\n)*.*)$", text, re.M).group(1)
    return [ROOT / f for f in block.replace("\\\n", " ").split()]


def statements(sql):
    """Yield the statements of sql (split at ';' outside quotes and comments)."""
    i, start, n = 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            i = sql.find("\n", i)
            i = n if i < 0 else i + 1
        elif c == "'":
            i += 1
            while i < n:
                if sql[i] == "'" and sql.startswith("''", i):
                    i += 2
                elif sql[i] == "'":
                    i += 1
                    break
                else:
                    i += 1
        elif c == "$":
            m = re.match(r"\$[A-Za-z_]*\$", sql[i:])
            if m:
                tag = m.group(0)
                end = sql.find(tag, i + len(tag))
                i = n if end < 0 else end + len(tag)
            else:
                i += 1
        elif c == ";":
            yield sql[start:i + 1]
            i += 1
            start = i
        else:
            i += 1


def main(names):
    wanted = {name.lower() for name in names}
    found = set()
    for path in component_files():
        for stmt in statements(path.read_text()):
            body = re.sub(r"^(\s*--[^\n]*\n|\s+)*", "", stmt)
            m = re.match(r"CREATE\s+FUNCTION\s+([\w.]+)\s*\(", body, re.I)
            if m and m.group(1).lower() in wanted:
                found.add(m.group(1).lower())
                print(f"-- from {path.relative_to(ROOT)}")
                print(re.sub(r"^CREATE\s+FUNCTION", "CREATE OR REPLACE FUNCTION", body, flags=re.I))
                print()
    missing = wanted - found
    if missing:
        sys.exit("not found: " + ", ".join(sorted(missing)))


if __name__ == "__main__":
    main(sys.argv[1:])
