/* SPDX-License-Identifier: Apache-2.0 */
/* agent_entry.c -- the `__agent` command of the cleanroom binary. Started by
 * the sandbox's first process with `--pivot` from inside the sandbox's new
 * root, it finishes the sandbox's set-up on itself (pivot_root, capabilities,
 * no_new_privs, Landlock, seccomp: everything after this inherits them),
 * tells the owner it is ready by closing the error pipe, and runs the agent
 * loop. Without `--pivot` it is the plain agent (tests, future VM guests). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "backend/backend.h"
#include "backend/netns/harden.h"
#include "backend/netns/rootfs.h"

#define ERR_FD 5 /* the owner's error pipe, see spawn.c */

static int finish_setup(cr_error **err)
{
	if (cr_rootfs_pivot(".", err) < 0 || cr_harden_capabilities(err) < 0 ||
	    cr_harden_no_new_privs(err) < 0)
		return -1;
	if (cr_harden_landlock(cr_rootfs_writable, err) < 0 || cr_harden_seccomp(err) < 0)
		return -1;
	return 0;
}

int cr_backend_agent_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--pivot") != 0)
		return cmd_agent(argc, argv);
	cr_error *err = NULL;
	if (finish_setup(&err) < 0) {
		if (write(ERR_FD, err->msg, strlen(err->msg)) < 0)
			return 126;
		return 127;
	}
	close(ERR_FD);
	close(CR_AGENT_EXE_FD);
	return cr_agent_main(CR_AGENT_CTL_FD, -1);
}
