#ifndef TESTS_FUZZ_HOSTD_PEER_CHECKS_H
#define TESTS_FUZZ_HOSTD_PEER_CHECKS_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/record.h"

/*
 * What fuzz-hostd-modules' peers (hostd-peers.h) check in what vmdesk-hostd
 * sends them: the Notify calls, the answers to the panel's calls of items
 * and menus by the signature and the values each method has, the items'
 * signals (hostd-peer-checks.c); and the panel's calls (hostd-peer-calls.c).
 * A finding prints a line and aborts. vms: the names of the VMs
 * (HP_MAX_VMS of them).
 */

/* The panel's calls (hostd-peers.c builds them). */
enum hpc_method {
	M_ACTIVATE,
	M_SECONDARY,
	M_CONTEXT_MENU,
	M_SCROLL,
	M_TOKEN,
	M_GET,
	M_GET_ALL,
	M_SET,
	M_INTROSPECT,
	M_LAYOUT,
	M_GROUP,
	M_PROPERTY,
	M_EVENT,
	M_EVENT_GROUP,
	M_ABOUT,
	M_ABOUT_GROUP,
	M_MENU_GET,
	M_MENU_GET_ALL,
	M_MENU_INTROSPECT,
	M_BAD_ARGS, // a known method with arguments of the wrong types
	M_UNKNOWN,
	M_COUNT,
};

/* The ids of menu items the layouts showed (the panel's later calls name them). */
#define HPC_MAX_IDS 64
struct hpc_ids {
	int32_t ids[HPC_MAX_IDS];
	size_t count;
};

/* A StatusNotifierItem's properties and their signatures. */
struct hpc_prop {
	const char *name, *sig;
};
#define HPC_ITEM_PROPS 16
extern const struct hpc_prop hpc_item_props[HPC_ITEM_PROPS];

/*
 * The panel's call of method to dest from the values of a record (a, b, c:
 * its arguments; ids: menu items to name); NULL if out of memory.
 */
DBusMessage *hpc_build_call(const char *dest, uint32_t method, const struct fz_value *a,
	const struct fz_value *b, const struct fz_value *c, const struct hpc_ids *ids);

void hpc_finding(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The answer to a call of method (an error is always well-formed). */
void hpc_check_reply(const char *const *vms, uint32_t method, DBusMessage *reply,
	struct hpc_ids *ids);
/* A Notify call: *vm the VM it names, *replaces its replaces_id, *actions at its actions. */
void hpc_check_notify(const char *const *vms, DBusMessage *call, int *vm, uint32_t *replaces,
	DBusMessageIter *actions);
/* A signal of an item or its menu. */
void hpc_check_signal(DBusMessage *msg);

/* Which VM a "[vm] ..." string names; -1 if none. */
int hpc_vm_prefix(const char *const *vms, const char *s);
const char *hpc_string(DBusMessageIter *it);
bool hpc_one_of(const char *s, const char *const *set, size_t n);

#endif
