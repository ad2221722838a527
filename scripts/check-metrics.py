#!/usr/bin/env python3
"""Check a scrape of Herald's /metrics against the families the README documents.

usage: check-metrics.py README.md [--local] < scrape.txt

The scrape is parsed with the Prometheus project's own OpenMetrics parser (Debian's
python3-prometheus-client), so a malformed exposition fails here as it would in Prometheus.
The documented names are the `herald_...` names in the README's metrics table, between the
lines `<!-- metrics:begin -->` and `<!-- metrics:end -->`, as users query them (counters with
`_total`). Exit 0 when every documented family is served and nothing undocumented is; else the
differences are printed and the exit code is 1. With `--local`, the rows that say "cluster
mode" are not required (local mode has no controllers to time).
"""

import re
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def documented(readme_path):
    """{name: whether the row says it is cluster mode only}."""
    text = open(readme_path, encoding="utf-8").read()
    match = re.search(r"<!-- metrics:begin -->(.*?)<!-- metrics:end -->", text, re.S)
    if not match:
        sys.exit(f"{readme_path}: no <!-- metrics:begin --> ... <!-- metrics:end --> section")
    rows = re.findall(r"^\|\s*`(herald_[a-z_]+)`(.*)$", match.group(1), re.M)
    return {name: "cluster mode" in rest for name, rest in rows}


def served(scrape):
    """Every family the scrape declares: parsed (which validates the whole exposition) plus
    those declared by a `# TYPE` line with no sample yet (a labelled family before its first
    event), which the parser does not yield."""
    names = {}
    for family in text_string_to_metric_families(scrape):
        names[family.name + ("_total" if family.type == "counter" else "")] = family.type
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", scrape, re.M):
        names.setdefault(name + ("_total" if kind == "counter" else ""), kind)
    return names


def main():
    rows = documented(sys.argv[1])
    local = "--local" in sys.argv[2:]
    want = set(rows)
    have = served(sys.stdin.read())
    missing = sorted(n for n in want - set(have) if not (local and rows[n]))
    extra = sorted(n for n in set(have) - want if n.startswith("herald_"))
    for name in missing:
        print(f"documented but not served: {name}")
    for name in extra:
        print(f"served but not documented: {name}")
    print(f"{len(have)} families served, {len(want)} documented")
    sys.exit(1 if missing or extra else 0)


if __name__ == "__main__":
    main()
