/* SPDX-License-Identifier: Apache-2.0 */
/* util.h -- protobuf helpers the services share. */
#pragma once

#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"

/* A new Timestamp for Unix milliseconds; NULL for 0 (unset). */
Google__Protobuf__Timestamp *cr_pb_timestamp(int64_t ms);

/* "ready", "stopped", ... (lower case, without the enum prefix). */
const char *cr_sandbox_status_name(int status);
const char *cr_execution_status_name(int status);
