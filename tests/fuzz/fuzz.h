/* SPDX-License-Identifier: MIT */
/* fuzz.h - the libFuzzer entry point every target defines (fuzz-main.c replays a corpus through it). */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
