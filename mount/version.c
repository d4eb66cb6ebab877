/*
 * version: what `snapfs --version`, `status` and the daemon's start line
 * say. SNAPFS_VERSION is CMake's project(VERSION); SNAPFS_GIT is `git
 * describe --always --dirty` of the source tree, refreshed at every build
 * by cmake/version.cmake into the build's snapfs_git.h (empty when the
 * source is not a git checkout, e.g. a release tarball).
 */
#include "snapfs.h"

#include "snapfs_git.h"

#include <stdio.h>

const char *snapfs_version(void)
{
	return SNAPFS_VERSION;
}

const char *snapfs_git(void)
{
	return SNAPFS_GIT[0] ? SNAPFS_GIT : NULL;
}

const char *snapfs_version_string(void)
{
	static char buf[128];

	if (!buf[0])
		snprintf(buf, sizeof(buf), SNAPFS_GIT[0] ? "%s (git %s)" : "%s%s", SNAPFS_VERSION,
			 SNAPFS_GIT);
	return buf;
}

int cmd_version(struct cli_opts *o)
{
	cli_print_version(stdout);
	return fflush(stdout) ? EXIT_INTERNAL : EXIT_OK;
}

int cmd_help(struct cli_opts *o)
{
	return cli_help_topic(o->npos, o->pos);
}
