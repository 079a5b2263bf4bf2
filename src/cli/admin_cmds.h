/* SPDX-License-Identifier: Apache-2.0 */
/* admin_cmds.h -- the inspection and administration commands of the
 * cleanroom CLI (docs/cli.md, "Inspection and administration"). Each is
 * `int cmd_x(int argc, char **argv)` with argv[0] its own name, returning
 * the process exit code: 0 success, 1 failure (an error line of spec §8.1
 * was printed), 2 usage error; `execution logs` returns the execution's own
 * exit code once it is terminal. */
#pragma once

int cmd_status(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
/* `cleanroom sandbox ls|get|rm|events|cp` */
int cmd_sandbox(int argc, char **argv);
/* `cleanroom execution ls|get|cancel|logs` */
int cmd_execution(int argc, char **argv);
/* `cleanroom audit ls` */
int cmd_audit(int argc, char **argv);
/* `cleanroom conformance`: runs the egress conformance suite (pytest) and
 * says whether the backend is supported; exit 0 only then (or when every
 * case of a -k selection passed). */
int cmd_conformance(int argc, char **argv);
/* `cleanroom serve install`: argv[0] is "install". Writes the systemd unit
 * cleanroom.service; never runs systemctl. */
int cmd_serve_install(int argc, char **argv);
