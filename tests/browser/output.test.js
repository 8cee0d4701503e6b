// SPDX-License-Identifier: MIT
// output.test.js - the Cockpit page's output decoding (cockpit/output.js) under node's test runner: printable
// text as it is, control bytes, invalid UTF-8, C1 and bidi controls escaped, sequences cut between chunks
// carried over, the window arithmetic. Run by meson (suite unit) when node is installed.
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const path = require("path");
const out = require(path.join(__dirname, "..", "..", "cockpit", "output.js"));

function text(bytes, final = true) {
    const { pieces, rest } = out.decode(Uint8Array.from(bytes), final);
    return { s: pieces.map(p => (p.escaped ? `[${p.text}]` : p.text)).join(""), rest: Array.from(rest) };
}

const utf8 = s => Array.from(Buffer.from(s, "utf8"));

test("printable ASCII, tab and newline pass", () => {
    assert.deepStrictEqual(text(utf8("a b\tc\n")), { s: "a b\tc\n", rest: [] });
});

test("control bytes and DEL are escaped", () => {
    assert.strictEqual(text([0, 0x1b, 0x7f, 0x0d]).s, "[\\x00][\\x1b][\\x7f][\\x0d]");
});

test("valid UTF-8 passes, invalid is escaped byte by byte", () => {
    assert.strictEqual(text(utf8("é€😀")).s, "é€😀");
    assert.strictEqual(text([0xff, 0xc0, 0xaf]).s, "[\\xff][\\xc0][\\xaf]");      /* overlong */
    assert.strictEqual(text([0xed, 0xa0, 0x80]).s, "[\\xed][\\xa0][\\x80]");      /* surrogate */
    assert.strictEqual(text([0xc3, 0x41]).s, "[\\xc3]A");                          /* bad continuation */
});

test("C1 controls and bidi overrides are escaped", () => {
    assert.strictEqual(text(utf8("\u0085")).s, "[\\xc2][\\x85]");
    assert.strictEqual(text(utf8("a\u202eb")).s, "a[\\xe2][\\x80][\\xae]b");
});

test("a sequence cut at a chunk's end is carried, or escaped at the end", () => {
    const euro = utf8("€");
    assert.deepStrictEqual(text([0x41, euro[0], euro[1]], false), { s: "A", rest: [euro[0], euro[1]] });
    assert.deepStrictEqual(text([euro[0], euro[1], euro[2]], false), { s: "€", rest: [] });
    assert.strictEqual(text([0x41, euro[0], euro[1]], true).s, "A[\\xe2][\\x82]");
});

test("HTML is text, never markup", () => {
    assert.strictEqual(text(utf8("<img src=x onerror=alert(1)>")).s, "<img src=x onerror=alert(1)>");
});

test("base64 to bytes", () => {
    assert.deepStrictEqual(Array.from(out.base64ToBytes(Buffer.from([0, 255, 10]).toString("base64"))), [0, 255, 10]);
    assert.strictEqual(out.base64ToBytes("").length, 0);
});

test("windows stay inside the stream", () => {
    assert.strictEqual(out.windowAt(100, -50, 64, 1000), 50);
    assert.strictEqual(out.windowAt(990, 50, 64, 1000), 936);
    assert.strictEqual(out.windowAt(0, -10, 64, 30), 0);
    assert.strictEqual(out.windowAt(10, 0, 64, 30), 0);
});
