#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# parse-metrics.py - reads Prometheus' text exposition on stdin with the prometheus_client parser (Debian's
# python3-prometheus-client) and prints its samples as JSON for test-metrics:
#   {"types": {"family": "counter", ...}, "samples": {"name{label=value,...}": value, ...}}
# Labels sorted by name. A text the parser refuses exits 1 with its message.
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    types, samples = {}, {}
    try:
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                key = f"{s.name}{{{labels}}}" if labels else s.name
                if key in samples:
                    raise ValueError(f"duplicate sample {key}")
                samples[key] = s.value
    except Exception as e:  # the parser raises ValueError and others on bad input
        print(f"parse-metrics: {e}", file=sys.stderr)
        return 1
    json.dump({"types": types, "samples": samples}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
