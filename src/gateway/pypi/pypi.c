/* SPDX-License-Identifier: Apache-2.0 */
/* pypi.c -- the PyPI front (PEP 503 / PEP 691 simple index and files) at
 * http://<gateway>/pypi/. Not implemented yet: every request is answered 503
 * so that pip fails with a clear message instead of hanging. */
#include "gateway/front/front.h"

void cr_front_pypi(cr_front_call *c)
{
	cr_front_refuse(c, 503, CR_REASON_NONE, "PyPI front not ready");
}
