#ifndef HOST_CLIPBOARD_CLIP_CLI_H
#define HOST_CLIPBOARD_CLIP_CLI_H

/*
 * The global clipboard's command line: `vmdesk clip copy|paste|show|clear`
 * and the vmdesk-clip binary. argv[0] is the command's own name.
 */
int vd_clip_cli_main(int argc, char *argv[]);

#endif
