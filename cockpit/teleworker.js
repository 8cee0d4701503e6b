/* SPDX-License-Identifier: MIT */
/* teleworker.js - the Cockpit page (docs/cockpit.md). Every call goes to teleworkerd's D-Bus API as the
 * logged-in user, so the daemon decides what the user sees and may do: the page has no authorization of its
 * own. The list is loaded once with ListPage and then kept up to date from JobStateChanged and
 * PropertiesChanged (no polling of the list); a job's usage is sampled from its properties once a second while
 * it runs and its output is read by offset with ReadOutput. Errors are shown as the daemon wrote them. */
"use strict";

const BUS_NAME = "org.teleworker.worker1";
const PATH = "/org/teleworker/worker1";
const MANAGER = "org.teleworker.worker1.Manager";
const JOB_PREFIX = "/org/teleworker/worker1/job/";
const OUTPUT_WINDOW = 256 * 1024;   /* bytes of output in the page at most */
const OUTPUT_CHUNK = 64 * 1024;     /* bytes per ReadOutput */
const OUTPUT_IDLE_MS = 250;         /* a running job's output is read again after this when it had nothing */
const SAMPLE_MS = 1000;
const SAMPLES_MAX = 60;
const INFINITY_MIN = 2 ** 63;       /* UINT64_MAX arrives as a double: "no limit" / "unavailable" */

const client = cockpit.dbus(BUS_NAME, { bus: "system" });
const jobs = new Map();             /* id -> plain properties */
const rows = new Map();             /* id -> <tr> */
let current = null;                 /* the job view's state, or null */

const $ = id => document.getElementById(id);

/* ---- helpers ------------------------------------------------------------------------------------------- */

function showError(ex) {
    const box = $("error");
    if (!ex) {
        box.hidden = true;
        return;
    }
    /* The daemon's error as it is: name and message (AccessDenied, LimitExceeded, ExecutableNotFound...). */
    box.textContent = ex.name ? `${ex.name}: ${ex.message}` : String(ex.message || ex);
    box.hidden = false;
}

function plain(props) {
    const o = {};
    for (const k in props)
        o[k] = props[k].v;
    return o;
}

function call(method, args) {
    return client.call(PATH, MANAGER, method, args);
}

function quoteArg(a) {
    if (/^[\w@%+=:,./-]+$/.test(a))
        return a;
    return "'" + a.replace(/'/g, "'\\''") + "'";
}

function commandLine(j) {
    return (j.Argv || []).map(quoteArg).join(" ");
}

function isSet(v) {
    return typeof v === "number" && v < INFINITY_MIN;
}

function formatTime(usec) {
    if (!usec)
        return "";
    return new Date(usec / 1000).toLocaleString();
}

function formatDuration(usec) {
    let s = Math.max(0, Math.floor(usec / 1e6));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    s %= 60;
    return h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`;
}

function runtime(j) {
    if (!j.StartedAt)
        return "";
    return formatDuration((j.EndedAt || Date.now() * 1000) - j.StartedAt);
}

function formatBytes(n) {
    if (!isSet(n))
        return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function endText(j) {
    if (j.State === "running" || j.State === "submitted")
        return "";
    if (j.Reason === "exited")
        return `exit ${j.ExitCode}`;
    if (j.Reason === "signal")
        return `signal ${j.ExitSignal}`;
    return j.Reason || "";
}

/* ---- the list ------------------------------------------------------------------------------------------ */

function fillRow(tr, j) {
    const cells = [
        [j.State, "state state-" + j.State],
        [j.Owner, ""],
        [commandLine(j), "cmd"],
        [formatTime(j.StartedAt || j.SubmittedAt), ""],
        [runtime(j), "runtime"],
        [endText(j), ""],
    ];
    while (tr.cells.length < cells.length)
        tr.insertCell();
    cells.forEach(([text, cls], i) => {
        tr.cells[i].textContent = text;
        tr.cells[i].className = cls;
    });
    tr.dataset.state = j.State;
    tr.title = commandLine(j);
}

/* The job's row, filled in; a new row is returned unattached (isNew). */
function rowFor(j) {
    let tr = rows.get(j.Id);
    const isNew = !tr;
    jobs.set(j.Id, j);
    if (isNew) {
        tr = document.createElement("tr");
        tr.dataset.id = j.Id;
        tr.addEventListener("click", () => openJob(j.Id));
        rows.set(j.Id, tr);
    }
    fillRow(tr, j);
    return { tr, isNew };
}

function upsert(j) {
    const { tr, isNew } = rowFor(j);
    if (isNew)
        $("jobs").tBodies[0].prepend(tr); /* newest first */
    updateCount();
    if (current && current.id === j.Id)
        showFacts(j);
}

function remove(id) {
    jobs.delete(id);
    const tr = rows.get(id);
    if (tr)
        tr.remove();
    rows.delete(id);
    updateCount();
}

function updateCount() {
    $("count").textContent = `${jobs.size} job${jobs.size === 1 ? "" : "s"}`;
}

async function loadList() {
    const t0 = performance.now();
    const body = $("jobs").tBodies[0];
    let cursor = "";
    do {
        const [page, next] = await call("ListPage", [cursor, 0]);
        const frag = document.createDocumentFragment();
        for (const props of page) {
            /* A row a signal already added stays where it is. */
            const { tr, isNew } = rowFor(plain(props));
            if (isNew)
                frag.prepend(tr);
        }
        body.prepend(frag);
        cursor = next;
    } while (cursor);
    updateCount();
    document.body.dataset.loaded = "true";
    document.body.dataset.loadMs = String(Math.round(performance.now() - t0));
}

/* One GetJob per changed job, however many signals came for it in one turn of the loop. */
const refreshing = new Set();

function refresh(id) {
    if (refreshing.has(id))
        return;
    refreshing.add(id);
    call("GetJob", [id])
        .then(([props]) => upsert(plain(props)))
        .catch(ex => {
            /* Not ours to see (another user's job: the signals go to everyone), or gone. */
            if (ex.name === "org.teleworker.worker1.Error.NoSuchJob" || ex.name === "org.freedesktop.DBus.Error.UnknownObject")
                remove(id);
        })
        .finally(() => refreshing.delete(id));
}

/* /org/teleworker/worker1/job/<32 hex digits> -> the id's text form (docs/dbus.md, "Job ids"). */
function idFromPath(path) {
    const m = /^\/org\/teleworker\/worker1\/job\/([0-9a-f]{32})$/.exec(path);
    if (!m)
        return null;
    const h = m[1];
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function subscribe() {
    client.subscribe({ interface: MANAGER, member: "JobStateChanged" }, (path, iface, signal, args) => {
        refresh(args[0]);
    });
    client.subscribe({ interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged",
                       path_namespace: JOB_PREFIX.replace(/\/$/, "") }, path => {
        const id = idFromPath(path);
        /* Only jobs already listed: a new one arrives with its JobStateChanged. */
        if (id && jobs.has(id))
            refresh(id);
    });
    /* A job removed (telerun rm, DELETE, retention) leaves the list without a reload. The signal goes to
     * everyone; an id not listed here is nothing to do. */
    client.subscribe({ interface: "org.freedesktop.DBus.ObjectManager", member: "InterfacesRemoved", path: PATH },
                     (path, iface, signal, args) => {
                         const id = idFromPath(args[0]);
                         if (id && jobs.has(id))
                             remove(id);
                     });
}

/* Run times of running jobs tick in the page; nothing is asked of the daemon for it. */
function tick() {
    for (const [id, j] of jobs)
        if (j.State === "running") {
            const tr = rows.get(id);
            if (tr)
                tr.cells[4].textContent = runtime(j);
        }
    if (current && jobs.get(current.id))
        showFacts(jobs.get(current.id));
}

/* ---- one job ------------------------------------------------------------------------------------------- */

function fact(dl, name, value) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    dl.append(dt, dd);
}

function limitText(v, fmt) {
    return isSet(v) && v > 0 ? fmt(v) : "none";
}

function showFacts(j) {
    const dl = $("j-facts");
    dl.replaceChildren();
    $("j-title").textContent = commandLine(j);
    fact(dl, "Id", j.Id);
    fact(dl, "State", `${j.State}${j.Reason && j.Reason !== "none" ? " (" + j.Reason + ")" : ""}`);
    fact(dl, "Exit", endText(j));
    fact(dl, "Owner / user", `${j.Owner} / ${j.User}`);
    fact(dl, "Submitted", formatTime(j.SubmittedAt));
    fact(dl, "Started", formatTime(j.StartedAt));
    fact(dl, "Ended", formatTime(j.EndedAt));
    fact(dl, "Run time", runtime(j));
    fact(dl, "Profile", j.Profile || "");
    fact(dl, "Memory max", limitText(j.MemoryMax, formatBytes));
    fact(dl, "CPU quota", limitText(j.CPUQuotaPerSecUSec, v => `${v / 10000}%`));
    fact(dl, "Tasks max", limitText(j.TasksMax, String));
    fact(dl, "IO read / write max", `${limitText(j.IOReadBandwidthMax, formatBytes)}/s / ${limitText(j.IOWriteBandwidthMax, formatBytes)}/s`);
    fact(dl, "Run time max", limitText(j.RuntimeMaxUSec, formatDuration));
    fact(dl, "Isolation", [["PrivatePID", "pid"], ["PrivateTmp", "tmp"], ["PrivateNetwork", "no network"],
        ["ProtectSystem", "read-only system"]].filter(([k]) => j[k]).map(([, n]) => n).join(", ") || "none");
    fact(dl, "Output", `${formatBytes(j.OutputSize)}${j.OutputDropped ? ", " + formatBytes(j.OutputDropped) + " dropped" : ""}`);
    $("j-stop").disabled = j.State !== "running" && j.State !== "submitted";
}

function drawChart(svg, series, label) {
    const w = 300, h = 80;
    const max = Math.max(1, ...series.flatMap(s => s.filter(v => v !== null)));
    /* A few samples spread over the width, up to SAMPLES_MAX that fill it; the newest at the right end. */
    const span = Math.max(15, series[0].length) - 1;
    svg.replaceChildren();
    series.forEach((s, k) => {
        const pts = [];
        s.forEach((v, i) => {
            if (v !== null)
                pts.push(`${(i * w / span).toFixed(1)},${(h - 2 - v / max * (h - 4)).toFixed(1)}`);
        });
        const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
        line.setAttribute("points", pts.join(" "));
        line.setAttribute("class", "l" + k);
        svg.appendChild(line);
    });
    svg.dataset.points = String(series[0].length);
    label.textContent = "";
}

function sample(j) {
    const c = current;
    const now = performance.now();
    const val = v => isSet(v) ? v : null;
    const s = { t: now, mem: val(j.MemoryCurrent), peak: val(j.MemoryPeak), cpu: val(j.CPUUsageNSec),
                rd: val(j.IOReadBytes), wr: val(j.IOWriteBytes) };
    const prev = c.samples[c.samples.length - 1];
    const rate = (a, b) => prev && a !== null && b !== null ? Math.max(0, (a - b) / ((now - prev.t) / 1000)) : null;
    s.cpuPct = prev ? (rate(s.cpu, prev.cpu) !== null ? rate(s.cpu, prev.cpu) / 1e7 : null) : null;
    s.rdRate = prev ? rate(s.rd, prev.rd) : null;
    s.wrRate = prev ? rate(s.wr, prev.wr) : null;
    c.samples.push(s);
    if (c.samples.length > SAMPLES_MAX)
        c.samples.shift();
    const col = k => c.samples.map(x => x[k]);
    drawChart($("c-mem"), [col("mem"), col("peak")], $("c-mem-val"));
    $("c-mem-val").textContent = `${formatBytes(s.mem)} / ${formatBytes(s.peak)}`;
    drawChart($("c-cpu"), [col("cpuPct")], $("c-cpu-val"));
    $("c-cpu-val").textContent = s.cpuPct !== null ? `${s.cpuPct.toFixed(0)}%` : "";
    drawChart($("c-io"), [col("rdRate"), col("wrRate")], $("c-io-val"));
    $("c-io-val").textContent = s.rdRate !== null ? `${formatBytes(s.rdRate)}/s, ${formatBytes(s.wrRate)}/s` : "";
}

async function sampler(c) {
    while (current === c) {
        try {
            const [props] = await call("GetJob", [c.id]);
            if (current !== c)
                return;
            const j = plain(props);
            upsert(j);
            sample(j);
            if (j.State !== "running" && j.State !== "submitted")
                return;
        } catch (ex) {
            showError(ex);
            return;
        }
        await new Promise(resolve => setTimeout(resolve, SAMPLE_MS));
    }
}

/* ---- output: a window of at most OUTPUT_WINDOW bytes, read by offset ---------------------------------------- */

function outputReset(c, start) {
    c.start = start;       /* offset of the first byte in the page */
    c.end = start;         /* offset of the next byte to read */
    c.rest = new Uint8Array(0);
    $("output").replaceChildren();
}

function outputRange(c) {
    $("o-range").textContent = `bytes ${c.start}–${c.end}${c.eof ? " (complete)" : ""}`;
    $("output").dataset.end = String(c.end);
}

function outputAppend(c, bytes, eof) {
    const pre = $("output");
    const joined = new Uint8Array(c.rest.length + bytes.length);
    joined.set(c.rest);
    joined.set(bytes, c.rest.length);
    const { pieces, rest } = twOutput.decode(joined, eof);
    c.rest = rest;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    twOutput.render(document, pre, pieces);
    if (c.follow && atBottom)
        pre.scrollTop = pre.scrollHeight;
}

async function readInto(c, offset, max) {
    const [data, next, eof] = await call("ReadOutput", [c.id, offset, max]);
    return { bytes: twOutput.base64ToBytes(data), next, eof };
}

/* Following: read from c.end on, chunk by chunk; when the page holds more than the window, start over from
 * the last half window (a reader of a huge output sees its end, and goes back with the buttons). */
async function follow(c) {
    c.follow = true;
    while (current === c && c.follow) {
        let r;
        try {
            r = await readInto(c, c.end, OUTPUT_CHUNK);
        } catch (ex) {
            showError(ex);
            return;
        }
        if (current !== c || !c.follow)
            return;
        if (c.end + r.bytes.length - c.start > OUTPUT_WINDOW) {
            const start = Math.max(c.start, r.next - OUTPUT_WINDOW / 2);
            outputReset(c, start);
            r = await readInto(c, start, r.next - start);
        }
        outputAppend(c, r.bytes, r.eof);
        c.end = r.next;
        c.eof = r.eof;
        outputRange(c);
        if (r.eof)
            return;
        if (r.bytes.length === 0)
            await new Promise(resolve => setTimeout(resolve, OUTPUT_IDLE_MS));
    }
}

/* A fixed window: [start, start + OUTPUT_WINDOW). */
async function showWindow(c, start) {
    c.follow = false;
    try {
        const [props] = await call("GetJob", [c.id]);
        const total = plain(props).OutputSize;
        start = twOutput.windowAt(start, 0, OUTPUT_WINDOW, total);
        outputReset(c, start);
        const r = await readInto(c, start, OUTPUT_WINDOW);
        outputAppend(c, r.bytes, true);
        c.end = r.next;
        c.eof = r.eof;
        outputRange(c);
    } catch (ex) {
        showError(ex);
    }
}

async function openJob(id) {
    showError(null);
    const c = { id, samples: [], follow: true, eof: false };
    current = c;
    $("list-view").hidden = true;
    $("start-form").hidden = true;
    $("job-view").hidden = false;
    document.body.dataset.view = "job";
    let j;
    try {
        j = plain((await call("GetJob", [id]))[0]);
    } catch (ex) {
        showError(ex);
        return;
    }
    upsert(j);
    showFacts(j);
    outputReset(c, j.OutputSize > OUTPUT_WINDOW ? j.OutputSize - OUTPUT_WINDOW : 0);
    sampler(c);
    follow(c);
}

function closeJob() {
    current = null;
    $("job-view").hidden = true;
    $("list-view").hidden = false;
    document.body.dataset.view = "list";
}

async function stopJob() {
    const c = current;
    if (!c)
        return;
    showError(null);
    $("j-stop").disabled = true;
    try {
        await call("Stop", [c.id]);
    } catch (ex) {
        showError(ex);
    }
    refresh(c.id);
}

/* ---- start --------------------------------------------------------------------------------------------- */

/* A command line split like a shell does for words and quotes (no expansion: the daemon runs argv). */
function splitCommand(s) {
    const argv = [];
    let cur = null, quote = null;
    for (let i = 0; i < s.length; i++) {
        const ch = s[i];
        if (quote) {
            if (ch === quote)
                quote = null;
            else if (ch === "\\" && quote === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]))
                cur += s[++i];
            else
                cur += ch;
        } else if (ch === "'" || ch === '"') {
            quote = ch;
            cur = cur ?? "";
        } else if (ch === "\\" && i + 1 < s.length) {
            cur = (cur ?? "") + s[++i];
        } else if (/\s/.test(ch)) {
            if (cur !== null)
                argv.push(cur);
            cur = null;
        } else
            cur = (cur ?? "") + ch;
    }
    if (quote)
        throw new Error("Unterminated quote in the command.");
    if (cur !== null)
        argv.push(cur);
    return argv;
}

function parseSize(s) {
    const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(s.trim());
    if (!m)
        throw new Error(`Not a size: '${s}' (e.g. 512M).`);
    return Math.round(parseFloat(m[1]) * 1024 ** " KMGT".indexOf(m[2].toUpperCase() || " "));
}

function startOptions() {
    const o = {};
    const v = id => $(id).value.trim();
    if (v("f-profile"))
        o.Profile = { t: "s", v: v("f-profile") };
    if (v("f-memory"))
        o.MemoryMax = { t: "t", v: parseSize(v("f-memory")) };
    if (v("f-ioread"))
        o.IOReadBandwidthMax = { t: "t", v: parseSize(v("f-ioread")) };
    if (v("f-iowrite"))
        o.IOWriteBandwidthMax = { t: "t", v: parseSize(v("f-iowrite")) };
    if (v("f-cpu"))
        o.CPUQuotaPerSecUSec = { t: "t", v: Math.round(parseFloat(v("f-cpu")) * 10000) };
    if (v("f-tasks"))
        o.TasksMax = { t: "t", v: parseInt(v("f-tasks"), 10) };
    if (v("f-runtime"))
        o.RuntimeMaxUSec = { t: "t", v: Math.round(parseFloat(v("f-runtime")) * 1e6) };
    /* Only what differs from the defaults is sent: the policy decides the rest. */
    if (!$("f-privatepid").checked)
        o.PrivatePID = { t: "b", v: false };
    if (!$("f-privatetmp").checked)
        o.PrivateTmp = { t: "b", v: false };
    if ($("f-privatenetwork").checked)
        o.PrivateNetwork = { t: "b", v: true };
    if ($("f-protectsystem").checked)
        o.ProtectSystem = { t: "b", v: true };
    return o;
}

async function submitStart(ev) {
    ev.preventDefault();
    showError(null);
    let argv, options;
    try {
        argv = splitCommand($("f-command").value);
        options = startOptions();
    } catch (ex) {
        showError(ex);
        return;
    }
    $("f-submit").disabled = true;
    try {
        const [id] = await call("Start", [argv, [], $("f-cwd").value.trim(), options]);
        $("start-form").hidden = true;
        refresh(id);
        openJob(id);
    } catch (ex) {
        showError(ex);
    } finally {
        $("f-submit").disabled = false;
    }
}

/* ---- wiring -------------------------------------------------------------------------------------------- */

function init() {
    $("new-job").addEventListener("click", () => { closeJob(); $("start-form").hidden = false; });
    $("f-cancel").addEventListener("click", () => { $("start-form").hidden = true; });
    $("start-form").addEventListener("submit", submitStart);
    $("back").addEventListener("click", closeJob);
    $("j-stop").addEventListener("click", stopJob);
    $("o-first").addEventListener("click", () => current && showWindow(current, 0));
    $("o-prev").addEventListener("click", () => current && showWindow(current, current.start - OUTPUT_WINDOW / 2));
    $("o-next").addEventListener("click", () => current && showWindow(current, current.start + OUTPUT_WINDOW / 2));
    $("o-follow").addEventListener("click", async () => {
        const c = current;
        if (!c || c.follow)
            return;
        try {
            const [props] = await call("GetJob", [c.id]);
            const size = plain(props).OutputSize;
            outputReset(c, size > OUTPUT_WINDOW ? size - OUTPUT_WINDOW : 0);
            follow(c);
        } catch (ex) {
            showError(ex);
        }
    });
    /* Signals first, then the list: a change between the two is not missed. */
    subscribe();
    loadList().catch(showError);
    setInterval(tick, 1000);
    cockpit.transport.wait(() => {});
}

document.addEventListener("DOMContentLoaded", init);
