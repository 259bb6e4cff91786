#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/vmstate.h"

/*
 * host/vmstate.c's reader on arbitrary bytes: the state file a later
 * vmdesk-hostd trusts to find a running VM (and signal its processes).
 * Beyond memory safety it checks: a refusal has a one-line message and
 * leaves nothing allocated; an accepted file names a VMM pid above 1, has
 * an agent address and, for command control, a power-down argv, and
 * writes back into a file that reads the same.
 */

static void check_cmd(const struct vd_vmm_cmd *cmd) {
	if (cmd->argc > 0 && (cmd->argv == NULL || cmd->argv[cmd->argc] != NULL)) {
		abort();
	}
	for (size_t i = 0; i < cmd->argc; i++) {
		if (strchr(cmd->argv[i], '\n') != NULL) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct vd_vmstate st;
	char err[256];
	if (!vd_vmstate_parse((const char *)data, size, &st, err, sizeof(err))) {
		size_t len = strnlen(err, sizeof(err));
		if (len == 0 || len == sizeof(err) || memchr(err, '\n', len) != NULL ||
				st.powerdown.argv != NULL || st.proxy.argv != NULL) {
			abort();
		}
		return 0;
	}
	if (st.vmm_pid <= 1 || st.agent[0] == '\0' || st.nhelpers > VD_VMSTATE_MAX_HELPERS ||
			(st.control == VD_VMM_CONTROL_COMMAND && st.powerdown.argc == 0)) {
		abort();
	}
	check_cmd(&st.powerdown);
	check_cmd(&st.force_stop);
	check_cmd(&st.proxy);
	vd_vmstate_finish(&st);
	return 0;
}
