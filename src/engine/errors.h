/* SPDX-License-Identifier: MIT */
/* errors.h - the API's error names now live in src/shared/api.h (with their one classification table);
 * kept so that the engine's includes need no change. */
#pragma once

#include "shared/api.h"
