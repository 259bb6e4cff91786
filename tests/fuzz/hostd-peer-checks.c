#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/link.h"
#include "tests/fuzz/hostd-peer-checks.h"
#include "tests/fuzz/hostd-peers.h"

#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define MENU_IFACE "com.canonical.dbusmenu"

/* What each method's answer must look like ("": none; NULL: only an error). */
static const char *const reply_signatures[M_COUNT] = {
	[M_ACTIVATE] = "", [M_SECONDARY] = "", [M_CONTEXT_MENU] = "", [M_SCROLL] = "",
	[M_TOKEN] = "", [M_GET] = "v", [M_GET_ALL] = "a{sv}", [M_SET] = "",
	[M_INTROSPECT] = "s", [M_LAYOUT] = "u(ia{sv}av)", [M_GROUP] = "a(ia{sv})",
	[M_PROPERTY] = "v", [M_EVENT] = "", [M_EVENT_GROUP] = "ai", [M_ABOUT] = "b",
	[M_ABOUT_GROUP] = "aiai", [M_MENU_GET] = "v", [M_MENU_GET_ALL] = "a{sv}",
	[M_MENU_INTROSPECT] = "s", [M_BAD_ARGS] = NULL, [M_UNKNOWN] = NULL,
};

void hpc_finding(const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	fprintf(stderr, "fuzz-hostd-modules: ");
	vfprintf(stderr, fmt, args);
	fprintf(stderr, "\n");
	va_end(args);
	abort();
}

static char *signature_of(DBusMessageIter *it) {
	return dbus_message_iter_get_signature(it);
}

static void expect_signature(DBusMessageIter *it, const char *want, const char *what) {
	char *sig = signature_of(it);
	if (sig == NULL || strcmp(sig, want) != 0) {
		hpc_finding("%s has signature %s, not %s", what, sig ? sig : "(none)", want);
	}
	dbus_free(sig);
}

/* Which VM a "[vm] ..." string names; -1 if none. */
int hpc_vm_prefix(const char *const *vms, const char *s) {
	for (int i = 0; i < HP_MAX_VMS; i++) {
		size_t n = strlen(vms[i]);
		if (s[0] == '[' && strncmp(s + 1, vms[i], n) == 0 && s[1 + n] == ']') {
			return i;
		}
	}
	return -1;
}

const char *hpc_string(DBusMessageIter *it) {
	const char *s = "";
	dbus_message_iter_get_basic(it, &s);
	return s;
}

static int32_t iter_int(DBusMessageIter *it) {
	dbus_int32_t v = 0;
	dbus_message_iter_get_basic(it, &v);
	return v;
}

bool hpc_one_of(const char *s, const char *const *set, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, set[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* a(iiay) of a StatusNotifierItem: each pixmap w x h, 4 bytes a pixel. */
static void check_pixmaps(DBusMessageIter *array) {
	DBusMessageIter st, bytes;
	dbus_message_iter_recurse(array, &st);
	for (; dbus_message_iter_get_arg_type(&st) == DBUS_TYPE_STRUCT; dbus_message_iter_next(&st)) {
		DBusMessageIter f;
		dbus_message_iter_recurse(&st, &f);
		int32_t w = iter_int(&f);
		dbus_message_iter_next(&f);
		int32_t h = iter_int(&f);
		dbus_message_iter_next(&f);
		dbus_message_iter_recurse(&f, &bytes);
		const uint8_t *data;
		int len = 0;
		dbus_message_iter_get_fixed_array(&bytes, &data, &len);
		if (w <= 0 || h <= 0 || w > 256 || h > 256 || (int64_t)len != (int64_t)w * h * 4) {
			hpc_finding("a pixmap of %dx%d with %d bytes", w, h, len);
		}
	}
}

const struct hpc_prop hpc_item_props[HPC_ITEM_PROPS] = {
	{"Category", "s"}, {"Id", "s"}, {"Title", "s"}, {"Status", "s"}, {"WindowId", "i"},
	{"IconThemePath", "s"}, {"IconName", "s"}, {"IconPixmap", "a(iiay)"},
	{"OverlayIconName", "s"}, {"OverlayIconPixmap", "a(iiay)"}, {"AttentionIconName", "s"},
	{"AttentionIconPixmap", "a(iiay)"}, {"AttentionMovieName", "s"},
	{"ToolTip", "(sa(iiay)ss)"}, {"ItemIsMenu", "b"}, {"Menu", "o"},
};

/* The variant v of an item's property name. */
static void check_item_prop(const char *const *vms, const char *name, DBusMessageIter *v) {
	static const char *const categories[] = {"ApplicationStatus", "Communications",
		"SystemServices", "Hardware"};
	static const char *const statuses[] = {"Passive", "Active", "NeedsAttention"};
	size_t p = 0;
	while (p < HPC_ITEM_PROPS && strcmp(hpc_item_props[p].name, name) != 0) {
		p++;
	}
	if (p == HPC_ITEM_PROPS) {
		hpc_finding("an item has a property %s", name);
	}
	DBusMessageIter in;
	dbus_message_iter_recurse(v, &in);
	expect_signature(&in, hpc_item_props[p].sig, name);
	if (strcmp(name, "Category") == 0 && !hpc_one_of(hpc_string(&in), categories, 4)) {
		hpc_finding("Category %s", hpc_string(&in));
	} else if (strcmp(name, "Status") == 0 && !hpc_one_of(hpc_string(&in), statuses, 3)) {
		hpc_finding("Status %s", hpc_string(&in));
	} else if ((strcmp(name, "Id") == 0 || strcmp(name, "Title") == 0) &&
			hpc_vm_prefix(vms, hpc_string(&in)) < 0) {
		hpc_finding("%s \"%s\" does not begin with its VM's name", name, hpc_string(&in));
	} else if (strstr(name, "Pixmap") != NULL) {
		check_pixmaps(&in);
	} else if (strcmp(name, "Menu") == 0 && strcmp(hpc_string(&in), "/MenuBar") != 0) {
		hpc_finding("Menu %s", hpc_string(&in));
	} else if (strcmp(name, "ToolTip") == 0) {
		DBusMessageIter f;
		dbus_message_iter_recurse(&in, &f);
		dbus_message_iter_next(&f);
		check_pixmaps(&f);
		dbus_message_iter_next(&f);
		if (hpc_vm_prefix(vms, hpc_string(&f)) < 0) {
			hpc_finding("a tooltip \"%s\" without its VM's name", hpc_string(&f));
		}
	}
}

/* A dbusmenu item's a{sv}. */
static void check_menu_props(DBusMessageIter *dict) {
	static const char *const toggles[] = {"checkmark", "radio"};
	DBusMessageIter entry, v;
	dbus_message_iter_recurse(dict, &entry);
	for (; dbus_message_iter_get_arg_type(&entry) == DBUS_TYPE_DICT_ENTRY;
			dbus_message_iter_next(&entry)) {
		DBusMessageIter kv;
		dbus_message_iter_recurse(&entry, &kv);
		const char *name = hpc_string(&kv);
		dbus_message_iter_next(&kv);
		dbus_message_iter_recurse(&kv, &v);
		char *sig = signature_of(&v);
		bool ok;
		if (strcmp(name, "label") == 0) {
			ok = strcmp(sig, "s") == 0;
		} else if (strcmp(name, "type") == 0) {
			ok = strcmp(sig, "s") == 0 && strcmp(hpc_string(&v), "separator") == 0;
		} else if (strcmp(name, "children-display") == 0) {
			ok = strcmp(sig, "s") == 0 && strcmp(hpc_string(&v), "submenu") == 0;
		} else if (strcmp(name, "toggle-type") == 0) {
			ok = strcmp(sig, "s") == 0 && hpc_one_of(hpc_string(&v), toggles, 2);
		} else if (strcmp(name, "toggle-state") == 0) {
			ok = strcmp(sig, "i") == 0 && iter_int(&v) >= -1 && iter_int(&v) <= 1;
		} else if (strcmp(name, "enabled") == 0 || strcmp(name, "visible") == 0) {
			ok = strcmp(sig, "b") == 0;
		} else if (strcmp(name, "icon-data") == 0) {
			DBusMessageIter bytes;
			const uint8_t *png = NULL;
			int len = 0;
			ok = strcmp(sig, "ay") == 0;
			if (ok) {
				dbus_message_iter_recurse(&v, &bytes);
				dbus_message_iter_get_fixed_array(&bytes, &png, &len);
				ok = len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0;
			}
		} else {
			ok = false;
		}
		if (!ok) {
			hpc_finding("a menu item's %s has signature %s or a bad value", name, sig);
		}
		dbus_free(sig);
	}
}

static void remember_menu_id(struct hpc_ids *ids, int32_t id) {
	for (size_t i = 0; i < ids->count; i++) {
		if (ids->ids[i] == id) {
			return;
		}
	}
	if (ids->count < HPC_MAX_IDS) {
		ids->ids[ids->count++] = id;
	}
}

/* (ia{sv}av) at depth (the root is 0). */
static void check_layout(DBusMessageIter *st, int depth, struct hpc_ids *ids) {
	if (depth > (int)VD_LINK_MAX_MENU_DEPTH + 1) {
		hpc_finding("a menu layout deeper than %d", VD_LINK_MAX_MENU_DEPTH);
	}
	DBusMessageIter f, children, v;
	dbus_message_iter_recurse(st, &f);
	int32_t id = iter_int(&f);
	if (id < 0 || (depth > 0 && id == 0)) {
		hpc_finding("a menu item with id %d at depth %d", id, depth);
	}
	remember_menu_id(ids, id);
	dbus_message_iter_next(&f);
	check_menu_props(&f);
	dbus_message_iter_next(&f);
	dbus_message_iter_recurse(&f, &children);
	for (; dbus_message_iter_get_arg_type(&children) == DBUS_TYPE_VARIANT;
			dbus_message_iter_next(&children)) {
		dbus_message_iter_recurse(&children, &v);
		expect_signature(&v, "(ia{sv}av)", "a menu child");
		check_layout(&v, depth + 1, ids);
	}
}

void hpc_check_reply(const char *const *vms, uint32_t method, DBusMessage *reply,
		struct hpc_ids *ids) {
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR) {
		if (dbus_message_get_error_name(reply) == NULL) {
			hpc_finding("an error reply without a name");
		}
		return;
	}
	const char *want = reply_signatures[method];
	if (want == NULL || !dbus_message_has_signature(reply, want)) {
		hpc_finding("method %u answered with signature %s, not %s", method,
			dbus_message_get_signature(reply), want ? want : "an error");
	}
	DBusMessageIter args, it, entry, kv;
	dbus_message_iter_init(reply, &args);
	switch (method) {
	case M_GET:
	case M_GET_ALL:
		/* the item's own properties (Get of one: checked as GetAll's entries are) */
		if (method == M_GET) {
			return; // the name asked is not kept: the signature is all
		}
		dbus_message_iter_recurse(&args, &entry);
		for (; dbus_message_iter_get_arg_type(&entry) == DBUS_TYPE_DICT_ENTRY;
				dbus_message_iter_next(&entry)) {
			dbus_message_iter_recurse(&entry, &kv);
			const char *name = hpc_string(&kv);
			dbus_message_iter_next(&kv);
			check_item_prop(vms, name, &kv);
		}
		return;
	case M_LAYOUT:
		dbus_message_iter_next(&args);
		check_layout(&args, 0, ids);
		return;
	case M_GROUP:
		dbus_message_iter_recurse(&args, &it);
		for (; dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRUCT;
				dbus_message_iter_next(&it)) {
			dbus_message_iter_recurse(&it, &kv);
			dbus_message_iter_next(&kv);
			check_menu_props(&kv);
		}
		return;
	default:
		return;
	}
}

/* The Notify call: from a VM hostd knows, named as its VM, a sound image, a replace of its own. */
void hpc_check_notify(const char *const *vms, DBusMessage *call, int *vm_out,
		uint32_t *replaces_out, DBusMessageIter *actions_out) {
	if (!dbus_message_has_signature(call, "susssasa{sv}i")) {
		hpc_finding("Notify with signature %s", dbus_message_get_signature(call));
	}
	DBusMessageIter args, hints, entry, kv, v, f, bytes;
	dbus_message_iter_init(call, &args);
	const char *app = hpc_string(&args);
	int vm = -1;
	for (int i = 0; i < HP_MAX_VMS; i++) {
		if (strncmp(app, "vmdesk: ", 8) == 0 && strcmp(app + 8, vms[i]) == 0) {
			vm = i;
		}
	}
	if (vm < 0) {
		hpc_finding("Notify from app \"%s\"", app);
	}
	dbus_message_iter_next(&args);
	dbus_uint32_t replaces;
	dbus_message_iter_get_basic(&args, &replaces);
	dbus_message_iter_next(&args);
	dbus_message_iter_next(&args);
	if (hpc_vm_prefix(vms, hpc_string(&args)) != vm) {
		hpc_finding("Notify of %s with summary \"%s\"", vms[vm], hpc_string(&args));
	}
	dbus_message_iter_next(&args);
	dbus_message_iter_next(&args);
	*actions_out = args;
	int nactions = dbus_message_iter_get_element_count(&args);
	if (nactions % 2 != 0) {
		hpc_finding("Notify with %d action strings", nactions);
	}
	dbus_message_iter_next(&args);
	dbus_message_iter_recurse(&args, &hints);
	bool named = false;
	for (; dbus_message_iter_get_arg_type(&hints) == DBUS_TYPE_DICT_ENTRY;
			dbus_message_iter_next(&hints)) {
		dbus_message_iter_recurse(&hints, &entry);
		const char *key = hpc_string(&entry);
		dbus_message_iter_next(&entry);
		dbus_message_iter_recurse(&entry, &v);
		if (strcmp(key, "x-vmdesk-vm") == 0) {
			named = strcmp(hpc_string(&v), vms[vm]) == 0;
		} else if (strcmp(key, "image-data") == 0) {
			expect_signature(&v, "(iiibiiay)", "image-data");
			int32_t n[6];
			dbus_message_iter_recurse(&v, &f);
			for (int i = 0; i < 6; i++, dbus_message_iter_next(&f)) {
				n[i] = i == 3 ? 0 : iter_int(&f);
			}
			dbus_message_iter_recurse(&f, &bytes);
			const uint8_t *data;
			int len = 0;
			dbus_message_iter_get_fixed_array(&bytes, &data, &len);
			if (n[0] <= 0 || n[1] <= 0 || n[0] > 256 || n[1] > 256 || n[2] != n[0] * 4 ||
					n[4] != 8 || n[5] != 4 || (int64_t)len != (int64_t)n[2] * n[1]) {
				hpc_finding("image-data %dx%d stride %d bits %d channels %d, %d bytes", n[0], n[1],
					n[2], n[4], n[5], len);
			}
		}
		(void)kv;
	}
	if (!named) {
		hpc_finding("Notify of %s without x-vmdesk-vm naming it", vms[vm]);
	}
	dbus_message_iter_next(&args);
	int32_t expire = iter_int(&args);
	if (expire < -1 || expire > 120000) {
		hpc_finding("Notify with expire_timeout %d", expire);
	}
	*vm_out = vm;
	*replaces_out = replaces;
}

/* A signal of an item or its menu (the panel watches them). */
void hpc_check_signal(DBusMessage *msg) {
	static const char *const statuses[] = {"Passive", "Active", "NeedsAttention"};
	const char *s;
	if (dbus_message_has_interface(msg, ITEM_IFACE)) {
		bool status = dbus_message_has_member(msg, "NewStatus");
		if (!dbus_message_has_path(msg, "/StatusNotifierItem") ||
				!dbus_message_has_signature(msg, status ? "s" : "") ||
				(status && (!dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &s,
					DBUS_TYPE_INVALID) || !hpc_one_of(s, statuses, 3)))) {
			hpc_finding("an item's signal %s with signature %s", dbus_message_get_member(msg),
				dbus_message_get_signature(msg));
		}
	} else if (dbus_message_has_interface(msg, MENU_IFACE)) {
		if (!dbus_message_is_signal(msg, MENU_IFACE, "LayoutUpdated") ||
				!dbus_message_has_path(msg, "/MenuBar") ||
				!dbus_message_has_signature(msg, "ui")) {
			hpc_finding("a menu's signal %s with signature %s", dbus_message_get_member(msg),
				dbus_message_get_signature(msg));
		}
	}
}
