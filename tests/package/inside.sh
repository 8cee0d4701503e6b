#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/package/inside.sh DEBDIR - the package test proper, inside the testbed (as root, PID 1 = the
# testbed's systemd, real system bus): install the .debs from DEBDIR, use the daemon over D-Bus and the
# gateway over mTLS, restart, upgrade, remove, purge, and check that nothing is left. Started by
# tests/package/run.sh; prints PASS/FAIL/TODO lines and exits 1 if anything failed.
set -uo pipefail

DEBDIR=${1:?usage: inside.sh DEBDIR}
[ "${TB_INSIDE:-}" ] || { echo "inside.sh: run me inside the testbed (tests/package/run.sh)" >&2; exit 2; }
cd / || exit 1
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 SYSTEMD_PAGER='' SYSTEMD_COLORS=0
CA=/root/teleworker-ca
BUS=(org.teleworker.worker1 /org/teleworker/worker1 org.teleworker.worker1.Manager)
DEBS=("$DEBDIR"/teleworker_*.deb "$DEBDIR"/teleworker-gateway_*.deb "$DEBDIR"/telerun_*.deb)
PASS=0 FAIL=0 TODO=0

pass() { PASS=$((PASS + 1)); echo "PASS: $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
todo() { TODO=$((TODO + 1)); echo "TODO: $* (not yet testable)"; }
check() {       # check "what" CMD...: PASS if CMD succeeds
        local what=$1 out
        shift
        if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; sed 's/^/    | /' <<< "$out" | tail -n 20; fi
}
eq() {          # eq "what" EXPECTED ACTUAL
        if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
section() { printf '\n--- %s\n' "$*"; }

unit_prop() { systemctl show -P "$2" "$1" 2>/dev/null; }
listening() { ss -Htln "sport = :8443" 2>/dev/null | grep -q LISTEN; }

# Processes of ours, by comm (15 characters: teleworker-gate...), and units of ours, loaded or on disk.
our_processes() { ps -eo pid=,comm=,args= | awk '$2 ~ /^(teleworker|telerun)/' || true; }
# Units of ours that are loaded from a file or not inactive, and unit files of ours. After a remove without
# purge, Debian keeps the enablement symlinks (so a reinstall restores them): such a unit shows up as
# "not-found inactive", which is fine; after a purge nothing at all may be left.
our_units() {
        systemctl list-units --all --no-legend --plain 'teleworker*' 2>/dev/null |
                awk '$2 == "loaded" || $3 != "inactive" {print $1 "(" $2 "," $3 ")"}'
        systemctl list-unit-files --no-legend --plain 'teleworker*' 2>/dev/null | awk '{print $1 "(file)"}'
}
any_units() { systemctl list-units --all --no-legend --plain 'teleworker*' 2>/dev/null | awk '{print $1}'; }

# busctl's text output: 's "ID" ...' -> ID
bus_start() {   # bus_start ARGV...: prints the job id
        local out
        out=$(busctl --timeout=60 call "${BUS[@]}" Start 'asassa{sv}' $# "$@" 0 "" 0) || return 1
        out=${out#so \"}
        echo "${out%%\"*}"
}
bus_wait() { busctl --timeout=120 call "${BUS[@]}" Wait s "$1"; }
bus_output() {  # the job's output as text ('ay N b1 b2 ... t b' -> bytes)
        busctl call "${BUS[@]}" ReadOutput stt "$1" 0 65536 |
                awk '{ n = $2; s = ""; for (i = 3; i < 3 + n; i++) s = s sprintf("%c", $i); printf "%s", s }'
}

# json_field KEY < JSON: the value of a top-level string or number member (json-c's spacing)
json_field() { sed -n 's/.*"'"$1"'": *"\{0,1\}\([^",}]*\).*/\1/p' | head -n1; }

curl_tls() {    # curl_tls USER CURL-ARGS...: curl with USER's client certificate
        local u=$1
        shift
        curl -sS --max-time 60 --cert "$CA/$u.crt" --key "$CA/$u.key" --cacert "$CA/ca.crt" "$@"
}

# ------------------------------------------------------------------------------------------------
# tests/testbed.sh leaves / shared (LoadCredential= needs that) and removes a container image's
# policy-rc.d in the overlay, so the maintainer scripts' service handling is really exercised.

section "install (the testbed already has the accounts teleworker-gw and teleworker-job)"
gw_uid_before=$(id -u teleworker-gw 2>/dev/null || echo none)
if apt-get install -y -q --no-install-recommends "${DEBS[@]}" > /tmp/apt-install.log 2>&1; then
        pass "apt-get install ./teleworker ./teleworker-gateway ./telerun"
else
        fail "apt-get install"; tail -n 30 /tmp/apt-install.log | sed 's/^/    | /'
        echo "inside.sh: cannot go on without the packages"; exit 1
fi
eq "teleworker-gw kept its uid" "$gw_uid_before" "$(id -u teleworker-gw 2>/dev/null || echo none)"
check "accounts teleworker-gw, teleworker-job, group teleworker-admin" \
        getent passwd teleworker-gw teleworker-job
check "group teleworker-admin exists" getent group teleworker-admin
eq "teleworker-gateway.socket enabled" enabled "$(systemctl is-enabled teleworker-gateway.socket 2>&1)"
eq "teleworkerd.service enabled: its alias only (D-Bus activated)" enabled "$(systemctl is-enabled teleworkerd.service 2>&1)"
eq "alias dbus-org.teleworker.worker1.service -> teleworkerd.service" teleworkerd.service \
        "$(basename "$(readlink /etc/systemd/system/dbus-org.teleworker.worker1.service 2>&1)")"
eq "nothing starts it at boot" "" "$(systemctl show -P WantedBy teleworkerd.service 2>&1)"
eq "teleworkerd.service not started at install" inactive "$(systemctl is-active teleworkerd.service 2>&1)"
eq "socket not listening without certificates (ConditionPathExists)" no \
        "$(unit_prop teleworker-gateway.socket ConditionResult)"
if listening; then fail "nothing listens on 8443 yet"; else pass "nothing listens on 8443 yet"; fi
eq "/etc/teleworker/gateway is 0700 root" "700 root" "$(stat -c '%a %U' /etc/teleworker/gateway 2>&1)"
check "man pages installed" man -w teleworkerd.8 teleworker-gateway.8 telerun.1 teleworker.json.5
if out=$(systemd-analyze verify teleworkerd.service teleworker.slice teleworker-gateway.socket \
                teleworker-gateway.service 2>&1) && [ -z "$out" ]; then
        pass "systemd-analyze verify: no warnings"
else
        fail "systemd-analyze verify"; sed 's/^/    | /' <<< "$out"
fi
score=$(systemd-analyze security --no-pager teleworker-gateway.service 2>/dev/null |
        sed -n 's/.*Overall exposure level for teleworker-gateway.service: *//p')
echo "INFO: systemd-analyze security teleworker-gateway.service: ${score:-?}"

# ------------------------------------------------------------------------------------------------
section "systemctl disable teleworkerd also stops bus activation; enable brings it back"
check "systemctl disable teleworkerd" systemctl disable teleworkerd.service
if busctl --timeout=10 call "${BUS[@]}" ListPage su "" 1 > /dev/null 2>&1; then
        fail "disabled: a call does not activate teleworkerd"
else
        pass "disabled: a call does not activate teleworkerd"
fi
eq "disabled: teleworkerd.service not started" inactive "$(systemctl is-active teleworkerd.service 2>&1)"
check "systemctl enable teleworkerd" systemctl enable teleworkerd.service

section "D-Bus: bus activation of teleworkerd, a job as root and one as tbuser1"
id=$(bus_start /bin/echo hello) || id=
if [ -n "$id" ]; then pass "busctl Start activates teleworkerd (job $id)"; else fail "busctl Start"; fi
eq "teleworkerd.service active after activation" active "$(systemctl is-active teleworkerd.service 2>&1)"
if [ -n "$id" ]; then
        check "busctl Wait" bus_wait "$id"
        eq "job output over D-Bus" "hello" "$(bus_output "$id")"
        check "job ended with success" sh -c "busctl call ${BUS[*]} GetJob s $id | grep -q '\"State\" s \"success\"'"
        # the journal catalog (units/teleworker.catalog): its text for the job's end entry
        check "journal catalog installed" test -f /usr/lib/systemd/catalog/teleworker.catalog
        journalctl --update-catalog > /dev/null 2>&1
        for _ in $(seq 50); do
                journalctl -q -x -u "teleworker-$id.scope" 2>/dev/null | grep -q "Subject: Job $id ended: success" && break
                sleep 0.1
        done
        check "journalctl -x -u teleworker-ID.scope shows the catalog text" \
                sh -c "journalctl -q -x -u teleworker-$id.scope | grep -q 'Subject: Job $id ended: success (exited)'"
fi
eq "telerun run as tbuser1 (job runs as the caller)" tbuser1 "$(runuser -u tbuser1 -- telerun run -- id -un 2>&1)"
runuser -u tbuser1 -- telerun run -- sh -c 'exit 7' > /dev/null 2>&1
eq "telerun run exits with the job's status" 7 "$?"

# ------------------------------------------------------------------------------------------------
section "certificates and the gateway socket"
certs=/usr/share/doc/teleworker-gateway/examples/teleworker-certs.sh
if bash "$certs" "$CA" --server-name localhost --user alice --user ops --admin > /tmp/certs.log 2>&1 &&
   install -m 0600 "$CA/server.crt" "$CA/server.key" "$CA/ca.crt" /etc/teleworker/gateway/; then
        pass "certificates made with the shipped teleworker-certs.sh"
else
        fail "teleworker-certs.sh"; sed 's/^/    | /' /tmp/certs.log
fi
check "systemctl enable --now teleworker-gateway.socket" systemctl enable --now teleworker-gateway.socket
eq "socket active" active "$(systemctl is-active teleworker-gateway.socket 2>&1)"
if listening; then pass "listening on 8443"; else fail "listening on 8443"; fi

# ------------------------------------------------------------------------------------------------
section "a job over HTTPS with curl (socket activation of the gateway)"
resp=$(curl_tls alice -w '\n%{http_code}' -H 'Content-Type: application/json' \
        -d '{"argv": ["/bin/echo", "hi"]}' https://localhost:8443/v1/jobs 2>&1)
code=${resp##*$'\n'}
eq "POST /v1/jobs answers 201" 201 "$code"
hid=$(json_field id <<< "$resp")
[ -n "$hid" ] || echo "    | $resp"
eq "gateway service active" active "$(systemctl is-active teleworker-gateway.service 2>&1)"
gwpid=$(unit_prop teleworker-gateway.service MainPID)
eq "gateway runs as teleworker-gw" "$(id -u teleworker-gw)" \
        "$(awk '/^Uid:/ {print $2}' "/proc/$gwpid/status" 2>/dev/null)"
if [ -n "$hid" ]; then
        job=$(curl_tls alice "https://localhost:8443/v1/jobs/$hid?wait=true" 2>&1)
        eq "GET /v1/jobs/ID?wait=true: success" success "$(json_field state <<< "$job")"
        eq "remote job ran as alice's own dynamic user" tw-alice "$(json_field user <<< "$job")"
        eq "remote job belongs to alice" alice "$(json_field owner <<< "$job")"
        eq "GET /v1/jobs/ID/output" hi "$(curl_tls alice "https://localhost:8443/v1/jobs/$hid/output" 2>&1)"
        code=$(curl -sS -o /dev/null -w '%{http_code}' --cert "$CA/ops.crt" --key "$CA/ops.key" \
                --cacert "$CA/ca.crt" "https://localhost:8443/v1/jobs/$hid" 2>&1)
        eq "an OU=admin certificate sees alice's job" 200 "$code"
fi
if curl -sS --max-time 20 --cacert "$CA/ca.crt" https://localhost:8443/v1/jobs > /dev/null 2>&1; then
        fail "a client without a certificate is refused"
else
        pass "a client without a certificate is refused"
fi

# ------------------------------------------------------------------------------------------------
section "a job over HTTPS with telerun --addr"
out=$(telerun --addr 127.0.0.1:8443 --cert "$CA/alice.crt" --key "$CA/alice.key" --cacert "$CA/ca.crt" \
        run -- /bin/echo hi 2>&1)
rc=$?
if grep -q 'remote mode not available' <<< "$out"; then
        todo "telerun --addr ... run -- /bin/echo hi: '$out'"
else
        eq "telerun --addr 127.0.0.1:8443 run -- /bin/echo hi: output" hi "$out"
        eq "telerun --addr ... run: exit status" 0 "$rc"
fi

# ------------------------------------------------------------------------------------------------
section "systemctl restart teleworkerd"
pid_before=$(unit_prop teleworkerd.service MainPID)
check "systemctl restart teleworkerd" systemctl restart teleworkerd.service
pid_after=$(unit_prop teleworkerd.service MainPID)
if [ "$pid_after" != 0 ] && [ "$pid_after" != "$pid_before" ]; then pass "new daemon process"; else
        fail "new daemon process ($pid_before -> $pid_after)"; fi
id=$(bus_start /bin/echo again) || id=
[ -n "$id" ] && bus_wait "$id" > /dev/null 2>&1
eq "a job over D-Bus after the restart" again "$( [ -n "$id" ] && bus_output "$id")"
resp=$(curl_tls alice -d '{"argv": ["/bin/echo", "hi"]}' https://localhost:8443/v1/jobs 2>&1)
hid=$(json_field id <<< "$resp")
eq "a job over HTTPS after the restart" hi \
        "$( [ -n "$hid" ] && curl_tls alice "https://localhost:8443/v1/jobs/$hid/output?follow=true" 2>&1)"

# ------------------------------------------------------------------------------------------------
section "upgrade (the same version again: prerm upgrade, postinst configure with the old version)"
long=$(bus_start /bin/sleep 600) || long=
if [ -n "$long" ]; then pass "a long job runs before the upgrade"; else fail "start a long job"; fi
pid_before=$(unit_prop teleworkerd.service MainPID)
gw_before=$(unit_prop teleworker-gateway.service MainPID)
if dpkg -i "${DEBS[@]}" > /tmp/dpkg-upgrade.log 2>&1; then pass "dpkg -i over the installed packages"; else
        fail "dpkg -i over the installed packages"; tail -n 30 /tmp/dpkg-upgrade.log | sed 's/^/    | /'; fi
pid_after=$(unit_prop teleworkerd.service MainPID)
if [ "$pid_after" != 0 ] && [ "$pid_after" != "$pid_before" ]; then pass "running teleworkerd restarted by the upgrade"
else fail "running teleworkerd restarted by the upgrade ($pid_before -> $pid_after)"; fi
gw_after=$(unit_prop teleworker-gateway.service MainPID)
if [ "$gw_before" != 0 ] && [ "$gw_after" != "$gw_before" ]; then pass "running gateway stopped or restarted by the upgrade"
else fail "running gateway stopped or restarted by the upgrade ($gw_before -> $gw_after)"; fi
if [ -n "$long" ]; then
        # the restart keeps running jobs (the daemon's fds are in systemd's fd store; no stop in the preinst)
        check "the long job is still running after the upgrade" \
                sh -c "busctl call ${BUS[*]} GetJob s $long | grep -q '\"State\" s \"running\"'"
fi
eq "socket still enabled" enabled "$(systemctl is-enabled teleworker-gateway.socket 2>&1)"
eq "socket still active" active "$(systemctl is-active teleworker-gateway.socket 2>&1)"
resp=$(curl_tls alice -d '{"argv": ["/bin/echo", "hi"]}' https://localhost:8443/v1/jobs 2>&1)
hid=$(json_field id <<< "$resp")
eq "a job over HTTPS after the upgrade" hi \
        "$( [ -n "$hid" ] && curl_tls alice "https://localhost:8443/v1/jobs/$hid/output?follow=true" 2>&1)"

# ------------------------------------------------------------------------------------------------
section "remove with a job still running"
if [ -n "$long" ] && [ -n "$(systemctl list-units --no-legend "teleworker-$long.scope")" ]; then
        pass "the long job's scope is there before the remove"
else
        fail "the long job's scope is there before the remove"
fi
if apt-get remove -y -q teleworker-gateway teleworker telerun > /tmp/apt-remove.log 2>&1; then
        pass "apt-get remove"
else
        fail "apt-get remove"; tail -n 30 /tmp/apt-remove.log | sed 's/^/    | /'
fi
sleep 1
left=$(our_processes)
if [ -z "$left" ] && ! pgrep -x sleep > /dev/null; then pass "no teleworker process and no job left"; else
        fail "processes left:"; { echo "$left"; pgrep -a -x sleep; } | sed 's/^/    | /'; fi
units=$(our_units)
if [ -z "$units" ]; then pass "no teleworker unit loaded or installed"; else
        fail "units left: ${units//$'\n'/ }"; fi
if listening; then fail "port 8443 closed"; else pass "port 8443 closed"; fi
if busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListActivatableNames |
   grep -q org.teleworker.worker1; then fail "bus name no longer activatable"; else pass "bus name no longer activatable"; fi
st=$(dpkg-query -W -f '${Package}:${db:Status-Abbrev} ' teleworker teleworker-gateway telerun 2>/dev/null)
if [[ $st == *:ii* ]]; then fail "packages removed ($st)"; else pass "packages removed ($st)"; fi
check "accounts kept after remove" getent passwd teleworker-gw teleworker-job

# ------------------------------------------------------------------------------------------------
section "purge"
if apt-get purge -y -q teleworker-gateway teleworker telerun > /tmp/apt-purge.log 2>&1; then pass "apt-get purge"; else
        fail "apt-get purge"; tail -n 30 /tmp/apt-purge.log | sed 's/^/    | /'; fi
if dpkg-query -W teleworker teleworker-gateway telerun > /dev/null 2>&1; then fail "dpkg knows the packages no more"; else
        pass "dpkg knows the packages no more"; fi
if [ -e /var/lib/teleworker ]; then fail "/var/lib/teleworker removed"; else pass "/var/lib/teleworker removed"; fi
units=$(any_units)
if [ -z "$units" ]; then pass "no teleworker unit known to systemd"; else fail "units left: ${units//$'\n'/ }"; fi
left=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
        -name 'teleworker*' 2>/dev/null)
if [ -z "$left" ]; then pass "no enablement symlinks or deb-systemd-helper state left"; else
        fail "left: ${left//$'\n'/ }"; fi
eq "the administrator's certificates are left in /etc/teleworker/gateway" "ca.crt server.crt server.key" \
        "$(ls /etc/teleworker/gateway 2>&1 | paste -sd ' ')"
check "accounts kept after purge (Debian policy)" getent passwd teleworker-gw teleworker-job

# ------------------------------------------------------------------------------------------------
section "a fresh system: the packages create the accounts"
rm -rf /etc/teleworker
userdel teleworker-gw 2>/dev/null; userdel teleworker-job 2>/dev/null; groupdel teleworker-admin 2>/dev/null
if getent passwd teleworker-gw > /dev/null || getent group teleworker-admin > /dev/null; then
        fail "could not delete the testbed's accounts"
fi
if dpkg -i "${DEBS[@]}" > /tmp/dpkg-fresh.log 2>&1; then pass "dpkg -i on a system without the accounts"; else
        fail "dpkg -i on a system without the accounts"; tail -n 30 /tmp/dpkg-fresh.log | sed 's/^/    | /'; fi
for a in teleworker-gw teleworker-job; do
        u=$(id -u "$a" 2>/dev/null) || u=
        if [ -n "$u" ] && [ "$u" -lt 1000 ] && [ "$(getent passwd "$a" | cut -d: -f7)" = /usr/sbin/nologin ]; then
                pass "system account $a created (uid $u, nologin)"
        else
                fail "system account $a created"
        fi
done
check "group teleworker-admin created" getent group teleworker-admin
eq "socket enabled, not active (no certificates)" "enabled inactive" \
        "$(systemctl is-enabled teleworker-gateway.socket 2>&1) $(systemctl is-active teleworker-gateway.socket 2>&1)"
if listening; then fail "nothing listens on 8443"; else pass "nothing listens on 8443"; fi
id=$(bus_start /bin/echo fresh) || id=
[ -n "$id" ] && bus_wait "$id" > /dev/null 2>&1
eq "a job over D-Bus on the fresh install" fresh "$( [ -n "$id" ] && bus_output "$id")"
if dpkg --purge teleworker-gateway teleworker telerun > /tmp/dpkg-purge.log 2>&1; then pass "dpkg --purge"; else
        fail "dpkg --purge"; tail -n 30 /tmp/dpkg-purge.log | sed 's/^/    | /'; fi
sleep 1
if [ -z "$(our_processes)" ] && [ -z "$(our_units)$(any_units)" ]; then pass "nothing left running or loaded"; else
        fail "left after purge: $(our_processes) $(our_units) $(any_units)"; fi

echo
echo "package test inside: $PASS passed, $FAIL failed, $TODO not yet testable"
[ "$FAIL" = 0 ]
