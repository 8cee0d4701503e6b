#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# openapi-to-json.py IN.yaml OUT.json - docs/openapi.yaml as JSON for test-openapi (json-c reads JSON; the
# YAML is read here by Debian's python3-yaml, at build time only). safe_load: no tags, no code.
import json
import sys

import yaml

with open(sys.argv[1], encoding='utf-8') as f:
    doc = yaml.safe_load(f)
with open(sys.argv[2], 'w', encoding='utf-8') as f:
    json.dump(doc, f)
