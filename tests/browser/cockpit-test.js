// SPDX-License-Identifier: MIT
// cockpit-test.js - one user's session with the Cockpit page in headless Chromium (puppeteer-core, Debian's
// /usr/bin/chromium): log in, see a job started with telerun appear within a second, open it, read its output
// as it grows (an escape byte shown escaped), stop it, see the state change, remove it with telerun and see its
// row go; tbuser2's job is listed for an administrator only. Configured by cockpit-test.sh through TW_*
// variables; screenshots go to TW_SHOTS.
"use strict";

const { execFileSync } = require("child_process");
const path = require("path");
const puppeteer = require("puppeteer-core");

const env = name => {
    const v = process.env[name];
    if (v === undefined)
        throw new Error(`${name} is not set`);
    return v;
};
const URL = env("TW_URL"), USER = env("TW_USER"), SHOTS = env("TW_SHOTS");
const SLOW = Number(env("TW_SLOWDOWN"));
const TIMEOUT = 30000 * SLOW;

let checks = 0;
function check(ok, what) {
    checks++;
    if (!ok)
        throw new Error(`${USER}: ${what}`);
    console.log(`ok ${checks} - ${USER}: ${what}`);
}

async function shot(page, name) {
    await page.screenshot({ path: path.join(SHOTS, `${USER}-${name}.png`) });
}

async function pageFrame(page) {
    const end = Date.now() + TIMEOUT;
    while (Date.now() < end) {
        const f = page.frames().find(fr => fr.url().includes("/teleworker/index.html"));
        if (f)
            return f;
        await new Promise(r => setTimeout(r, 100));
    }
    await shot(page, "no-frame");
    throw new Error(`the teleworker frame did not load (at ${page.url()}; frames: ${page.frames().map(f => f.url()).join(" ")})`);
}

/* Logs in through Cockpit's login page. The first login of a user starts its cockpit-bridge, which on a loaded
 * machine can take longer than a navigation timeout: a login whose page did not come is tried again, unless the
 * session is there already (no login form on the next load). */
async function login(page) {
    for (let attempt = 1; ; attempt++) {
        await page.goto(URL + "/", { waitUntil: "domcontentloaded" });
        const form = await page.waitForSelector("#login-user-input", { timeout: attempt > 1 ? 5000 * SLOW : TIMEOUT })
            .catch(e => { if (attempt > 1) return null; throw e; });
        if (!form)
            return;   /* logged in after all: the shell, not the login page */
        await page.type("#login-user-input", USER);
        await page.type("#login-password-input", env("TW_PASSWORD"));
        try {
            await Promise.all([page.waitForNavigation({ waitUntil: "domcontentloaded" }), page.click("#login-button")]);
            return;
        } catch (e) {
            if (!(e instanceof Error && e.name === "TimeoutError") || attempt >= 3)
                throw e;
            console.log(`# ${USER}: no page ${TIMEOUT} ms after login attempt ${attempt}: again`);
        }
    }
}

async function main() {
    const t0 = Date.now();
    const browser = await puppeteer.launch({
        executablePath: "/usr/bin/chromium",
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        defaultViewport: { width: 1280, height: 860 },
    });
    try {
        const page = await browser.newPage();
        page.setDefaultTimeout(TIMEOUT);
        page.on("pageerror", e => console.log(`# page error: ${e.message}`));

        await login(page);
        const tNav = Date.now();
        await page.goto(URL + "/teleworker", { waitUntil: "domcontentloaded" });
        const frame = await pageFrame(page);
        await frame.waitForSelector("body[data-loaded=true]");
        const loadMs = await frame.$eval("body", b => b.dataset.loadMs);
        const nRows = await frame.$$eval("#jobs tbody tr", r => r.length);
        console.log(`# ${USER}: page listed ${nRows} jobs ${Date.now() - tNav} ms after navigating to it ` +
                    `(ListPage and rendering: ${loadMs} ms)`);

        const other = await frame.$(`tr[data-id="${env("TW_OTHER_JOB")}"]`);
        check(!!other === (env("TW_EXPECT_OTHER") === "1"),
              `tbuser2's job is ${env("TW_EXPECT_OTHER") === "1" ? "" : "not "}listed`);

        // A job started outside the page appears from its signal, without a reload.
        const script = "printf 'start\\033[1m\\001\\n'; i=0; while [ $i -lt 1500 ]; do echo \"tick $i\"; i=$((i+1)); sleep 0.2; done";
        const id = execFileSync("runuser", ["-u", USER, "--", env("TW_TELERUN"), "start", "--", "/bin/sh", "-c", script],
                                { encoding: "utf8" }).trim();
        const tStart = Date.now();
        await frame.waitForSelector(`tr[data-id="${id}"]`, { timeout: 1000 * SLOW });
        const appearMs = Date.now() - tStart;
        check(appearMs <= 1000 * SLOW, `job ${id} appeared ${appearMs} ms after telerun start returned`);
        await shot(page, "1-list");

        // Open it: the output follows as it grows.
        await frame.click(`tr[data-id="${id}"]`);
        await frame.waitForSelector("#job-view:not([hidden])");
        await frame.waitForFunction(() => Number(document.getElementById("output").dataset.end || 0) > 0);
        const end1 = await frame.$eval("#output", e => Number(e.dataset.end));
        await frame.waitForFunction(n => Number(document.getElementById("output").dataset.end) > n + 20, {}, end1);
        const text = await frame.$eval("#output", e => e.textContent);
        check(text.startsWith("start\\x1b[1m\\x01\n"), "non-printable bytes are shown escaped");
        check(/tick 0\ntick 1\n/.test(text), "the output is there from its first line");
        await frame.waitForFunction(() => document.getElementById("output").textContent.includes("tick 4\n"));
        check(true, "the output grew while the page was open");
        await frame.waitForFunction(() => Number(document.getElementById("c-mem").dataset.points) >= 5);
        check(true, "the memory chart has 5 samples of the running job");
        await shot(page, "2-job");

        // Stop it from the page: the state changes in the view and in the list.
        await frame.click("#j-stop");
        await frame.waitForSelector(`tr[data-id="${id}"][data-state="killed"]`);
        const facts = await frame.$eval("#j-facts", e => e.textContent);
        check(facts.includes("killed (stopped)"), "the job view shows killed (stopped)");
        const state = execFileSync(env("TW_TELERUN"), ["status", "--json", id], { encoding: "utf8" });
        check(JSON.parse(state).state === "killed", "the daemon agrees: killed");
        await shot(page, "3-stopped");

        // Removed outside the page: its row goes without a reload.
        execFileSync("runuser", ["-u", USER, "--", env("TW_TELERUN"), "rm", id]);
        await frame.waitForFunction(i => !document.querySelector(`tr[data-id="${i}"]`), { timeout: 5000 * SLOW }, id);
        check(true, "a job removed with telerun rm leaves the list");

        // The start form: the daemon's refusals as it wrote them, then a job with a limit of the form's.
        async function startFromForm(command, memory) {
            await frame.click("#new-job");
            await frame.waitForSelector("#start-form:not([hidden])");
            await frame.$eval("#f-command", (e, v) => { e.value = v; }, command);
            await frame.$eval("#f-memory", (e, v) => { e.value = v; }, memory);
            await frame.click("#f-submit");
        }
        await startFromForm("no-such-command-cockpit", "");
        await frame.waitForSelector("#error:not([hidden])");
        let error = await frame.$eval("#error", e => e.textContent);
        check(error.startsWith("org.teleworker.worker1.Error.ExecutableNotFound: ") && error.includes("no-such-command-cockpit"),
              `a command not found is the daemon's error: ${error}`);
        await frame.$eval("#error", e => { e.hidden = true; });
        await startFromForm("/bin/true", "2G");
        await frame.waitForSelector("#error:not([hidden])");
        error = await frame.$eval("#error", e => e.textContent);
        check(error.startsWith("org.teleworker.worker1.Error.LimitExceeded: "), `a limit past the maximum: ${error}`);
        await shot(page, "4-error");
        await startFromForm("/bin/sh -c 'echo \"from the form\"'", "64M");
        await frame.waitForFunction(() => document.getElementById("output").textContent === "from the form\n");
        await frame.waitForFunction(() => document.getElementById("j-facts").textContent.includes("exit 0"));
        const formFacts = await frame.$eval("#j-facts", e => e.textContent);
        check(formFacts.includes("64.0 MiB"), "the form's job ran with its limit and exited 0");

        // 4 MiB of output: the page holds a window of its end, and fetches its start by offset.
        await startFromForm("/bin/sh -c 'head -c 4194304 /dev/zero | tr \\\\0 x; echo; echo END'", "");
        await frame.waitForFunction(() => document.getElementById("output").textContent.endsWith("x\nEND\n"));
        const tail = await frame.$eval("#output", e => ({ n: e.textContent.length, range: document.getElementById("o-range").textContent }));
        check(tail.n <= 256 * 1024 && /^bytes \d+–4194309 \(complete\)$/.test(tail.range),
              `a large output is a window of its end (${tail.n} characters, ${tail.range})`);
        await frame.click("#o-first");
        await frame.waitForFunction(() => document.getElementById("o-range").textContent.startsWith("bytes 0–"));
        const head = await frame.$eval("#o-range", e => e.textContent);
        check(head === "bytes 0–262144", `its first window is fetched by offset (${head})`);
        console.log(`# ${USER}: ${checks} checks in ${Date.now() - t0} ms`);
    } finally {
        await browser.close();
    }
}

main().catch(e => {
    /* puppeteer rejects with plain objects too (a DevTools protocol error, an ErrorEvent): say what they hold */
    const text = e instanceof Error ? e.stack : (() => { try { return `${e} ${e && e.type || ''} ${JSON.stringify(e, Object.getOwnPropertyNames(e || {}))}`; } catch { return String(e); } })();
    console.log(`not ok - ${text}`);
    process.exit(1);
});
