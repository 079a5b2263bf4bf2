/* SPDX-License-Identifier: Apache-2.0 */
/* agent.h -- the sandbox agent: PID 1 inside a sandbox.
 *
 * The namespace backend re-executes the cleanroom binary as the agent
 * (`cleanroom __agent`, with the control socket on fd 3 and an O_PATH fd of
 * its own executable on fd 4) once the sandbox's mounts and hardening are in
 * place. The agent reaps every process, runs executions on request (see
 * protocol.h) and relays their output; it exits when its control socket
 * closes or it receives SHUTDOWN, and since it is PID 1 of the sandbox's PID
 * namespace every process inside dies with it. */
#pragma once

#define CR_AGENT_CTL_FD 3
#define CR_AGENT_EXE_FD 4

/* Runs the agent loop until the owner goes away. Returns the process exit
 * status (0 after SHUTDOWN or EOF, 1 on a protocol or system error). */
int cr_agent_main(int ctl_fd, int exe_fd);

/* `cleanroom __agent`: the hidden command that calls cr_agent_main on the
 * inherited fds. */
int cmd_agent(int argc, char **argv);
