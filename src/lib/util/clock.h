/* SPDX-License-Identifier: Apache-2.0 */
/* clock.h -- milliseconds from the two clocks the project uses. */
#pragma once

#include <stdint.h>

/* Unix time in milliseconds (CLOCK_REALTIME): timestamps that are stored. */
int64_t cr_now_ms(void);
/* Milliseconds on CLOCK_MONOTONIC: durations and deadlines. */
int64_t cr_monotonic_ms(void);
