/*
 * main: the snapfs executable, git-style. The command line is one table of
 * verbs (cli_verbs.c) read by cli_main (cli_parse.c); each verb's client
 * lives in its cmd_<group>.c. Only main exits.
 */
#include "snapfs.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
