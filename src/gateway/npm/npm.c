/* SPDX-License-Identifier: Apache-2.0 */
/* npm.c -- the npm registry front (front.h): packuments and tarballs under
 * http://<gateway>/npm/. This first version only says that it is not ready;
 * the handler proper follows. */
#include "gateway/front/front.h"

void cr_front_npm(cr_front_call *c)
{
	cr_front_refuse(c, 503, CR_REASON_NONE, "npm front not ready: %s is not served yet", c->path);
}
