/* SPDX-License-Identifier: Apache-2.0 */
/* policy_opts.c -- option parsing shared by the policy commands:
 * -c/--config PATH, -C/--repo DIR, --json, -h/--help, plus the command's own
 * options described by a small table. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/policy_opts.h"

int cr_policy_parse_opts(int argc, char **argv, const char *usage, cr_policy_opts *o,
			 const struct cr_extra_opt *extra, void *ctx)
{
	struct option longopts[16] = {
		{"config", required_argument, NULL, 'c'},
		{"repo", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
	};
	char shortopts[32] = "c:C:h";
	size_t n = 4;
	for (const struct cr_extra_opt *e = extra; e && e->name && n < 15; e++, n++) {
		longopts[n] =
			(struct option){e->name, e->has_arg ? required_argument : no_argument, NULL, e->val};
		if (e->val < 256 && strlen(shortopts) + 2 < sizeof(shortopts)) {
			size_t l = strlen(shortopts);
			shortopts[l] = (char)e->val;
			shortopts[l + 1] = e->has_arg ? ':' : '\0';
			shortopts[l + 2] = '\0';
		}
	}
	longopts[n] = (struct option){0};
	char cmd[64];
	size_t cl = strcspn(usage, "[");
	while (cl && usage[cl - 1] == ' ')
		cl--;
	snprintf(cmd, sizeof(cmd), "%.*s", (int)cl, usage);
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'c')
			o->config = optarg;
		else if (c == 'C')
			o->repo_dir = optarg;
		else if (c == 'j')
			o->json = true;
		else if (c == 'h')
			return printf("Usage: %s\n", usage), -2;
		else if (c == '?' || c == ':')
			return cr_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]),
			       -1;
		else if (!extra || extra->handle(ctx, c, optarg) < 0)
			return -1;
	}
	return optind;
}
