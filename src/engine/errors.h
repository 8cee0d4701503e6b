/* SPDX-License-Identifier: MIT */
/* errors.h - D-Bus error names of the teleworker API (docs/dbus.md); one place for every transport. */
#pragma once

#define TW_ERROR_PREFIX "org.teleworker.worker1.Error."
#define TW_ERROR_NO_SUCH_JOB TW_ERROR_PREFIX "NoSuchJob"
#define TW_ERROR_EXECUTABLE_NOT_FOUND TW_ERROR_PREFIX "ExecutableNotFound"
#define TW_ERROR_LIMIT_EXCEEDED TW_ERROR_PREFIX "LimitExceeded"
#define TW_ERROR_START_FAILED TW_ERROR_PREFIX "StartFailed"
#define TW_ERROR_TOO_MANY_JOBS TW_ERROR_PREFIX "TooManyJobs"
#define TW_ERROR_TOO_MANY_READERS TW_ERROR_PREFIX "TooManyReaders"
#define TW_ERROR_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"
#define TW_ERROR_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
