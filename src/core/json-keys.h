/* SPDX-License-Identifier: MIT */
/* json-keys.h - a key given twice in one JSON object. json-c's parser lets it pass and keeps the last value,
 * so `{"cwd": "/a", "cwd": "/b"}` would mean whatever that detail of one library says. HTTP bodies and the
 * policy file are refused when they hold one, as systemd's JSON dispatch refuses them. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* Whether every object of root has each of its keys once, where root is what json-c parsed (in strict mode)
 * from exactly the len bytes of text. A key json-c dropped is a key of the text missing from the tree: the
 * check compares the two counts. Linear in len; recursion no deeper than root's nesting (the tokener's depth
 * limit bounds it). */
bool json_keys_unique(const char *text, size_t len, json_object *root);
