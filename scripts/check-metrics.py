#!/usr/bin/env python3
"""Check a scrape of Herald's /metrics against the families the README documents.

usage: check-metrics.py README.md < scrape.txt

The scrape is parsed with the Prometheus project's own OpenMetrics parser (Debian's
python3-prometheus-client), so a malformed exposition fails here as it would in Prometheus.
The documented names are the `herald_...` names in the README's metrics table, between the
lines `<!-- metrics:begin -->` and `<!-- metrics:end -->`, as users query them (counters with
`_total`). Exit 0 when every documented family is served and nothing undocumented is; else the
differences are printed and the exit code is 1.
"""

import re
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def documented(readme_path):
    text = open(readme_path, encoding="utf-8").read()
    match = re.search(r"<!-- metrics:begin -->(.*?)<!-- metrics:end -->", text, re.S)
    if not match:
        sys.exit(f"{readme_path}: no <!-- metrics:begin --> ... <!-- metrics:end --> section")
    return set(re.findall(r"^\|\s*`(herald_[a-z_]+)`", match.group(1), re.M))


def served(scrape):
    names = {}
    for family in text_string_to_metric_families(scrape):
        name = family.name + ("_total" if family.type == "counter" else "")
        names[name] = family
    return names


def main():
    want = documented(sys.argv[1])
    have = served(sys.stdin.read())
    missing = sorted(want - set(have))
    extra = sorted(n for n in set(have) - want if n.startswith("herald_"))
    for name in missing:
        print(f"documented but not served: {name}")
    for name in extra:
        print(f"served but not documented: {name}")
    print(f"{len(have)} families served, {len(want)} documented")
    sys.exit(1 if missing or extra else 0)


if __name__ == "__main__":
    main()
