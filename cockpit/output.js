/* SPDX-License-Identifier: MIT */
/* output.js - a job's output as text that is safe to show: bytes in, DOM nodes out, never HTML. Printable
 * ASCII, tab, newline and well-formed UTF-8 (minus control characters) are shown as they are; every other byte
 * as an escape "\xNN" in its own span. A multi-byte sequence cut at a chunk's end is carried to the next
 * chunk. Also the window arithmetic of the output view. Pure: no cockpit, no DOM but the one passed in.
 * Loaded by the page and by tests/browser/output.test.js (node). */
"use strict";

(function (exports) {
    /* Length of the valid UTF-8 sequence at bytes[i], 0 if there is none, -1 if it may be one cut short. */
    function utf8Length(bytes, i) {
        const b = bytes[i];
        let n, min;
        if (b >= 0xc2 && b <= 0xdf) { n = 2; min = 0x80; } else if (b >= 0xe0 && b <= 0xef) { n = 3; min = 0x800; } else if (b >= 0xf0 && b <= 0xf4) { n = 4; min = 0x10000; } else
            return 0;
        let cp = b & (0xff >> (n + 1));
        for (let k = 1; k < n; k++) {
            if (i + k >= bytes.length)
                return -1;
            const c = bytes[i + k];
            if ((c & 0xc0) !== 0x80)
                return 0;
            cp = (cp << 6) | (c & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        /* C1 controls and bidi overrides are escaped too: they could reorder what the reader sees. */
        if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            return 0;
        return n;
    }

    function hex(b) {
        return "\\x" + b.toString(16).padStart(2, "0");
    }

    /* Splits bytes into pieces [{text, escaped}], and the bytes of a sequence cut at the end (to prepend to
     * the next chunk; at the end of the stream, pass final and they are escaped instead). */
    function decode(bytes, final) {
        const pieces = [];
        let text = "";
        let i = 0;
        const flush = () => { if (text) pieces.push({ text, escaped: false }); text = ""; };
        while (i < bytes.length) {
            const b = bytes[i];
            if ((b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x09) {
                text += String.fromCharCode(b);
                i++;
                continue;
            }
            const n = b >= 0x80 ? utf8Length(bytes, i) : 0;
            if (n === -1 && !final)
                break;
            if (n > 0) {
                text += new TextDecoder().decode(bytes.subarray(i, i + n));
                i += n;
                continue;
            }
            flush();
            pieces.push({ text: hex(b), escaped: true });
            i++;
        }
        flush();
        return { pieces, rest: bytes.slice(i) };
    }

    /* Appends pieces to a parent element as text nodes and <span class="esc"> elements. */
    function render(doc, parent, pieces) {
        const frag = doc.createDocumentFragment();
        for (const p of pieces) {
            if (!p.escaped) {
                frag.appendChild(doc.createTextNode(p.text));
                continue;
            }
            const span = doc.createElement("span");
            span.className = "esc";
            span.textContent = p.text;
            frag.appendChild(span);
        }
        parent.appendChild(frag);
    }

    function base64ToBytes(s) {
        const bin = atob(s || "");
        const out = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++)
            out[i] = bin.charCodeAt(i);
        return out;
    }

    /* The window [start, start+size) that shows offset `at` moved by `delta` within a stream of `total`
     * bytes: never before 0, never past the end when the stream is long enough to fill it. */
    function windowAt(at, delta, size, total) {
        let start = at + delta;
        if (start + size > total)
            start = total - size;
        return Math.max(0, start);
    }

    exports.decode = decode;
    exports.render = render;
    exports.base64ToBytes = base64ToBytes;
    exports.windowAt = windowAt;
})(typeof module !== "undefined" ? module.exports : (window.twOutput = {}));
