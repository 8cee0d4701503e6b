#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/check-layers.sh - the layers of src/ as the includes see them (docs/design.md, "Map").
#
# The build gives every library the src/ root alone as include path, so every include names its folder
# ("engine/manager.h") and this script can read the layering off the source. It fails when:
#   - a folder includes a folder above it (the table below: the folders each may include, itself included);
#   - src/shared or src/core includes <systemd/...> or <openssl/...> (core links neither library; the
#     headers sit in /usr/include, so only this check keeps them out at compile time);
#   - cli/ includes src/gateway or src/engine (telerun talks to the daemon over D-Bus or HTTP, never links them);
#   - cli/ or src/gateway includes from src/bus more than the forms clients share (bus-json.h, bus-start.h):
#     bus-api.h brings the engine with it, and the gateway is unprivileged;
#   - a folder's *-internal.h is included from outside that folder;
#   - an include names no folder, or a file that does not exist under src/;
#   - two headers of src/ or cli/ include each other, directly or through others (a cycle).
# Usage: tests/check-layers.sh [SOURCE_ROOT]; prints TAP.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
exec python3 - "$root" <<'PY'
import os, re, sys

root = sys.argv[1]
allowed = {
        'shared':    {'shared'},
        'core':      {'shared', 'core'},
        'exec':      {'shared', 'exec'},
        'engine':    {'shared', 'core', 'exec', 'engine'},
        'transport': {'shared', 'core', 'transport'},
        'bus':       {'shared', 'core', 'exec', 'engine', 'bus'},
        'gateway':   {'shared', 'core', 'bus', 'transport', 'gateway'},
        'daemon':    {'shared', 'core', 'exec', 'engine', 'bus', 'daemon'},
        'cli':       {'shared', 'core', 'bus', 'transport'},
}
no_system = {'shared', 'core'}
# From src/bus, the layers beside or above it that are not the daemon may take only the forms clients share.
bus_forms = {'bus/bus-json.h', 'bus/bus-start.h', 'bus/bus-output-options.h'}
local_rx = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
system_rx = re.compile(r'^\s*#\s*include\s+<((?:systemd|openssl)/[^>]+)>', re.M)

files = {}   # path relative to root -> (layer, text)
for layer in list(allowed):
        d = os.path.join(root, 'cli' if layer == 'cli' else os.path.join('src', layer))
        for f in sorted(os.listdir(d)):
                if f.endswith(('.c', '.h')):
                        p = os.path.relpath(os.path.join(d, f), root)
                        files[p] = (layer, open(os.path.join(root, p)).read())

problems = []
edges = {}   # header -> headers it includes (paths relative to root)
for p, (layer, text) in files.items():
        for inc in local_rx.findall(text):
                if inc == 'teleworker-build.h':
                        continue
                if layer == 'cli' and '/' not in inc and os.path.exists(os.path.join(root, 'cli', inc)):
                        target = 'cli/' + inc
                else:
                        top = inc.split('/')[0]
                        if '/' not in inc:
                                problems.append('%s: "%s" names no folder' % (p, inc))
                                continue
                        if top not in allowed or top == 'cli':
                                problems.append('%s: "%s" is no folder of src/' % (p, inc))
                                continue
                        if not os.path.exists(os.path.join(root, 'src', inc)):
                                problems.append('%s: "%s" does not exist under src/' % (p, inc))
                                continue
                        if top not in allowed[layer]:
                                problems.append('%s (%s) includes "%s": %s is above it' % (p, layer, inc, top))
                        elif top == 'bus' and layer in ('cli', 'gateway') and inc not in bus_forms:
                                problems.append('%s (%s) includes "%s": only %s' % (p, layer, inc,
                                                                                  ', '.join(sorted(bus_forms))))
                        if inc.endswith('-internal.h') and top != layer:
                                problems.append('%s (%s) includes "%s": internal to %s' % (p, layer, inc, top))
                        target = 'src/' + inc
                if p.endswith('.h'):
                        edges.setdefault(p, set()).add(target)
        if layer in no_system:
                for inc in system_rx.findall(text):
                        problems.append('%s (%s) includes <%s>' % (p, layer, inc))

# Depth-first search over the header graph; a grey node met again closes a cycle.
state = {}
def visit(h, stack):
        state[h] = 'grey'
        stack.append(h)
        for t in sorted(edges.get(h, ())):
                if state.get(t) == 'grey':
                        problems.append('include cycle: ' + ' -> '.join(stack[stack.index(t):] + [t]))
                elif t not in state:
                        visit(t, stack)
        stack.pop()
        state[h] = 'black'
for h in sorted(edges):
        if h not in state:
                visit(h, [])

print('1..1')
for x in problems:
        print('# ' + x)
print(('not ok' if problems else 'ok') + ' 1 - layers: %d files, %d header edges' %
      (len(files), sum(len(v) for v in edges.values())))
sys.exit(1 if problems else 0)
PY
