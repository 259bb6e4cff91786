#include <string.h>

#include "tests/fuzz/hostd-peer-checks.h"

#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define MENU_IFACE "com.canonical.dbusmenu"

static const char *const strings[] = {"vertical", "horizontal", ITEM_IFACE, MENU_IFACE,
	"clicked", "hovered", "opened", "closed", "", "Id", "IconPixmap", "ToolTip", "Menu",
	"label", "icon-data", "Version", "Status", "x", "org.freedesktop.DBus.Properties",
	"Category", "Title", "AttentionIconPixmap", "OverlayIconPixmap", "IconThemePath",
	"TextDirection", "toggle-state", "children-display", "no-such"};
#define N_STRINGS (sizeof(strings) / sizeof(strings[0]))
static const char *const menu_prop_names[] = {"children-display", "type", "label", "enabled",
	"visible", "toggle-type", "toggle-state", "icon-data", "no-such"};
#define N_MENU_PROPS (sizeof(menu_prop_names) / sizeof(menu_prop_names[0]))

static int32_t value_int(const struct fz_value *v, const struct hpc_ids *ids) {
	static const int32_t edges[] = {0, -1, INT32_MIN, INT32_MAX, 1200, -1201, 1, 2};
	if (v->cls == FZ_SPECIAL) {
		return edges[v->p % 8];
	}
	if (v->cls == FZ_SEL && ids->count > 0) {
		return ids->ids[fz_value_number(v) % ids->count];
	}
	return (int32_t)(uint32_t)fz_value_number(v);
}

/* A string of the value: SMALL/SEL k the k-th sample, BYTES exactly (when valid UTF-8). */
static const char *value_string(const struct fz_value *v, char *buf, size_t size) {
	if (v->cls == FZ_BYTES && v->len < size) {
		memcpy(buf, v->bytes, v->len);
		buf[v->len] = '\0';
		if (strlen(buf) == v->len && dbus_validate_utf8(buf, NULL)) {
			return buf;
		}
	}
	return strings[fz_value_number(v) % N_STRINGS];
}

/* as of a bitmask: bit i, the i-th property name of a menu item. */
static bool append_names(DBusMessageIter *args, const struct fz_value *v) {
	DBusMessageIter array;
	uint64_t mask = fz_value_number(v);
	bool ok = dbus_message_iter_open_container(args, DBUS_TYPE_ARRAY, "s", &array);
	for (size_t i = 0; ok && i < N_MENU_PROPS; i++) {
		if (mask & (1u << i)) {
			ok = dbus_message_iter_append_basic(&array, DBUS_TYPE_STRING, &menu_prop_names[i]);
		}
	}
	return ok && dbus_message_iter_close_container(args, &array);
}

/* ai: SEL k the first k ids the menus showed; else the value itself and the root. */
static bool append_ids(DBusMessageIter *args, const struct fz_value *v,
		const struct hpc_ids *ids) {
	DBusMessageIter array;
	bool ok = dbus_message_iter_open_container(args, DBUS_TYPE_ARRAY, "i", &array);
	if (v->cls == FZ_SEL) {
		for (size_t i = 0; ok && i < fz_value_number(v) % (HPC_MAX_IDS + 1) &&
				i < ids->count; i++) {
			ok = dbus_message_iter_append_basic(&array, DBUS_TYPE_INT32, &ids->ids[i]);
		}
	} else if (v->present) {
		int32_t one[2] = {value_int(v, ids), 0}; // and the root
		for (size_t i = 0; ok && i < 2; i++) {
			ok = dbus_message_iter_append_basic(&array, DBUS_TYPE_INT32, &one[i]);
		}
	}
	return ok && dbus_message_iter_close_container(args, &array);
}

/* (isvu) events: each id of the ids value with the event named by b. */
static bool append_events(DBusMessageIter *args, const struct fz_value *ids_v,
		const struct fz_value *name_v, const struct hpc_ids *ids) {
	DBusMessageIter array, st, var;
	char buf[256];
	const char *name = value_string(name_v, buf, sizeof(buf));
	size_t n = ids_v->cls == FZ_SEL ? ids->count : 1;
	dbus_int32_t zero = 0;
	dbus_uint32_t when = 0;
	bool ok = dbus_message_iter_open_container(args, DBUS_TYPE_ARRAY, "(isvu)", &array);
	for (size_t i = 0; ok && i < n; i++) {
		dbus_int32_t id = ids_v->cls == FZ_SEL ? ids->ids[i] : value_int(ids_v, ids);
		ok = dbus_message_iter_open_container(&array, DBUS_TYPE_STRUCT, NULL, &st) &&
			dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &id) &&
			dbus_message_iter_append_basic(&st, DBUS_TYPE_STRING, &name) &&
			dbus_message_iter_open_container(&st, DBUS_TYPE_VARIANT, "i", &var) &&
			dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &zero) &&
			dbus_message_iter_close_container(&st, &var) &&
			dbus_message_iter_append_basic(&st, DBUS_TYPE_UINT32, &when) &&
			dbus_message_iter_close_container(&array, &st);
	}
	return ok && dbus_message_iter_close_container(args, &array);
}

DBusMessage *hpc_build_call(const char *dest, uint32_t method, const struct fz_value *a,
		const struct fz_value *b, const struct fz_value *c, const struct hpc_ids *ids) {
	static const char *const item_methods[] = {"Activate", "SecondaryActivate", "ContextMenu"};
	bool menu = method >= M_LAYOUT && method <= M_MENU_INTROSPECT;
	const char *path = menu ? "/MenuBar" : "/StatusNotifierItem";
	const char *iface = menu ? MENU_IFACE : ITEM_IFACE;
	const char *member = "NoSuchMethod";
	switch (method) {
	case M_ACTIVATE:
	case M_SECONDARY:
	case M_CONTEXT_MENU:
		member = item_methods[method];
		break;
	case M_SCROLL:
		member = "Scroll";
		break;
	case M_TOKEN:
		member = "ProvideXdgActivationToken";
		break;
	case M_GET:
	case M_MENU_GET:
		iface = DBUS_INTERFACE_PROPERTIES;
		member = "Get";
		break;
	case M_GET_ALL:
	case M_MENU_GET_ALL:
		iface = DBUS_INTERFACE_PROPERTIES;
		member = "GetAll";
		break;
	case M_SET:
		iface = DBUS_INTERFACE_PROPERTIES;
		member = "Set";
		path = fz_value_number(c) & 1 ? "/MenuBar" : path;
		break;
	case M_INTROSPECT:
	case M_MENU_INTROSPECT:
		iface = DBUS_INTERFACE_INTROSPECTABLE;
		member = "Introspect";
		break;
	case M_LAYOUT:
		member = "GetLayout";
		break;
	case M_GROUP:
		member = "GetGroupProperties";
		break;
	case M_PROPERTY:
		member = "GetProperty";
		break;
	case M_EVENT:
		member = "Event";
		break;
	case M_EVENT_GROUP:
		member = "EventGroup";
		break;
	case M_ABOUT:
		member = "AboutToShow";
		break;
	case M_ABOUT_GROUP:
		member = "AboutToShowGroup";
		break;
	case M_BAD_ARGS: {
		/* a known method with arguments of the wrong types */
		static const char *const bad[][3] = {
			{ITEM_IFACE, "Scroll", "/StatusNotifierItem"},
			{DBUS_INTERFACE_PROPERTIES, "Get", "/StatusNotifierItem"},
			{MENU_IFACE, "GetLayout", "/MenuBar"}, {MENU_IFACE, "Event", "/MenuBar"},
			{MENU_IFACE, "GetProperty", "/MenuBar"}, {MENU_IFACE, "AboutToShow", "/MenuBar"},
		};
		size_t k = fz_value_number(a) % 6;
		iface = bad[k][0];
		member = bad[k][1];
		path = bad[k][2];
		break;
	}
	default:
		break;
	}
	DBusMessage *msg = dbus_message_new_method_call(dest, path, iface, member);
	if (msg == NULL) {
		return NULL;
	}
	dbus_message_set_auto_start(msg, FALSE);
	DBusMessageIter args, var;
	dbus_message_iter_init_append(msg, &args);
	char sa[256], sb[256];
	int32_t ia = value_int(a, ids), ib = value_int(b, ids);
	const char *str_a = value_string(a, sa, sizeof(sa)), *str_b = value_string(b, sb,
		sizeof(sb));
	dbus_uint32_t when = (uint32_t)fz_value_number(c);
	bool ok = true;
	switch (method) {
	case M_ACTIVATE:
	case M_SECONDARY:
	case M_CONTEXT_MENU:
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ia) &&
			dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ib);
		break;
	case M_SCROLL:
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ia) &&
			dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &str_b);
		break;
	case M_TOKEN:
	case M_GET_ALL:
	case M_MENU_GET_ALL:
		if (method != M_TOKEN && a->cls != FZ_BYTES) {
			str_a = method == M_GET_ALL ? ITEM_IFACE : MENU_IFACE;
		}
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &str_a);
		break;
	case M_GET:
	case M_MENU_GET:
	case M_SET: {
		const char *iface_arg = method == M_MENU_GET ? MENU_IFACE : ITEM_IFACE;
		if (method == M_GET && b->cls != FZ_BYTES) {
			str_b = hpc_item_props[fz_value_number(b) % HPC_ITEM_PROPS].name;
		}
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &iface_arg) &&
			dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &str_b);
		if (ok && method == M_SET) {
			ok = dbus_message_iter_open_container(&args, DBUS_TYPE_VARIANT, "i", &var) &&
				dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &ia) &&
				dbus_message_iter_close_container(&args, &var);
		}
		break;
	}
	case M_LAYOUT:
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ia) &&
			dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ib) &&
			append_names(&args, c);
		break;
	case M_GROUP:
		ok = append_ids(&args, a, ids) && append_names(&args, b);
		break;
	case M_PROPERTY:
		if (b->cls != FZ_BYTES) {
			str_b = menu_prop_names[fz_value_number(b) % N_MENU_PROPS];
		}
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ia) &&
			dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &str_b);
		break;
	case M_EVENT:
		if (b->cls != FZ_BYTES) {
			str_b = strings[4 + fz_value_number(b) % 5];
		}
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ia) &&
			dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &str_b) &&
			dbus_message_iter_open_container(&args, DBUS_TYPE_VARIANT, "s", &var) &&
			dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &str_a) &&
			dbus_message_iter_close_container(&args, &var) &&
			dbus_message_iter_append_basic(&args, DBUS_TYPE_UINT32, &when);
		break;
	case M_EVENT_GROUP:
		ok = append_events(&args, a, b, ids);
		break;
	case M_ABOUT:
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &ia);
		break;
	case M_ABOUT_GROUP:
		ok = append_ids(&args, a, ids);
		break;
	case M_BAD_ARGS:
		ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_UINT32, &when);
		break;
	default:
		break;
	}
	if (!ok) {
		dbus_message_unref(msg);
		return NULL;
	}
	return msg;
}
