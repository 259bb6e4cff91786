#include <stdlib.h>
#include <string.h>

#include "decoration/icon.h"
#include "decoration/title.h"
#include "host/tray-menu.h"

#define IFACE "com.canonical.dbusmenu"
#define LABEL_MAX 256

static const char introspection[] =
	DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE
	"<node>\n"
	" <interface name=\"" IFACE "\">\n"
	"  <property name=\"Version\" type=\"u\" access=\"read\"/>\n"
	"  <property name=\"TextDirection\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"Status\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"IconThemePath\" type=\"as\" access=\"read\"/>\n"
	"  <method name=\"GetLayout\"><arg type=\"i\" direction=\"in\"/>"
	"<arg type=\"i\" direction=\"in\"/><arg type=\"as\" direction=\"in\"/>"
	"<arg type=\"u\" direction=\"out\"/><arg type=\"(ia{sv}av)\" direction=\"out\"/></method>\n"
	"  <method name=\"GetGroupProperties\"><arg type=\"ai\" direction=\"in\"/>"
	"<arg type=\"as\" direction=\"in\"/><arg type=\"a(ia{sv})\" direction=\"out\"/></method>\n"
	"  <method name=\"GetProperty\"><arg type=\"i\" direction=\"in\"/>"
	"<arg type=\"s\" direction=\"in\"/><arg type=\"v\" direction=\"out\"/></method>\n"
	"  <method name=\"Event\"><arg type=\"i\" direction=\"in\"/><arg type=\"s\" direction=\"in\"/>"
	"<arg type=\"v\" direction=\"in\"/><arg type=\"u\" direction=\"in\"/></method>\n"
	"  <method name=\"EventGroup\"><arg type=\"a(isvu)\" direction=\"in\"/>"
	"<arg type=\"ai\" direction=\"out\"/></method>\n"
	"  <method name=\"AboutToShow\"><arg type=\"i\" direction=\"in\"/>"
	"<arg type=\"b\" direction=\"out\"/></method>\n"
	"  <method name=\"AboutToShowGroup\"><arg type=\"ai\" direction=\"in\"/>"
	"<arg type=\"ai\" direction=\"out\"/><arg type=\"ai\" direction=\"out\"/></method>\n"
	"  <signal name=\"ItemsPropertiesUpdated\"><arg type=\"a(ia{sv})\"/><arg type=\"a(ias)\"/>"
	"</signal>\n"
	"  <signal name=\"LayoutUpdated\"><arg type=\"u\"/><arg type=\"i\"/></signal>\n"
	"  <signal name=\"ItemActivationRequested\"><arg type=\"i\"/><arg type=\"u\"/></signal>\n"
	" </interface>\n"
	" <interface name=\"" DBUS_INTERFACE_PROPERTIES "\">\n"
	"  <method name=\"Get\"><arg type=\"s\" direction=\"in\"/><arg type=\"s\" direction=\"in\"/>"
	"<arg type=\"v\" direction=\"out\"/></method>\n"
	"  <method name=\"GetAll\"><arg type=\"s\" direction=\"in\"/>"
	"<arg type=\"a{sv}\" direction=\"out\"/></method>\n"
	" </interface>\n"
	" <interface name=\"" DBUS_INTERFACE_INTROSPECTABLE "\">\n"
	"  <method name=\"Introspect\"><arg type=\"s\" direction=\"out\"/></method>\n"
	" </interface>\n"
	"</node>\n";

void vd_tray_menu_finish(struct vd_tray_menu *menu) {
	for (uint32_t i = 0; i < menu->count; i++) {
		free(menu->items[i].label);
		free(menu->items[i].png);
	}
	free(menu->items);
	menu->items = NULL;
	menu->count = 0;
}

bool vd_tray_menu_set(struct vd_tray_menu *menu, const struct vd_link_tray_menu *msg) {
	struct vd_tray_menu_item *items = calloc(msg->items_count ? msg->items_count : 1,
		sizeof(*items));
	if (items == NULL) {
		return false;
	}
	for (uint32_t i = 0; i < msg->items_count; i++) {
		const struct vd_link_tray_menu_items *in = &msg->items[i];
		struct vd_tray_menu_item *out = &items[i];
		*out = (struct vd_tray_menu_item){.id = (int32_t)in->id, .parent = (int32_t)in->parent,
			.type = in->type, .flags = in->flags, .toggle = in->toggle,
			.toggle_state = in->toggle_state};
		out->label = vd_title_sanitize(in->label, LABEL_MAX);
		if (in->icon_len > 0) {
			/* plain: the VM's color is on the tray icon the menu opens from */
			int size = in->icon_width > in->icon_height ? in->icon_width : in->icon_height;
			cairo_surface_t *icon = vd_icon_frame(in->icon, in->icon_width, in->icon_height,
				(struct vd_color){0, 0, 0}, VD_ICON_PLAIN, size);
			if (icon != NULL && !vd_icon_png(icon, &out->png, &out->png_len)) {
				out->png = NULL;
			}
			cairo_surface_destroy(icon);
		}
	}
	vd_tray_menu_finish(menu);
	menu->items = items;
	menu->count = msg->items_count;
	menu->revision++;
	return true;
}

static const struct vd_tray_menu_item *find(const struct vd_tray_menu *menu, int32_t id) {
	for (uint32_t i = 0; i < menu->count; i++) {
		if (menu->items[i].id == id) {
			return &menu->items[i];
		}
	}
	return NULL;
}

/* ---- properties of items ---- */

static bool wanted(DBusMessageIter *names, const char *name) {
	if (names == NULL || dbus_message_iter_get_arg_type(names) != DBUS_TYPE_STRING) {
		return true; // no names: all of them
	}
	DBusMessageIter it = *names;
	while (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING) {
		const char *s;
		dbus_message_iter_get_basic(&it, &s);
		if (strcmp(s, name) == 0) {
			return true;
		}
		dbus_message_iter_next(&it);
	}
	return false;
}

static bool has_children(const struct vd_tray_menu *menu, int32_t id) {
	for (uint32_t i = 0; i < menu->count; i++) {
		if (menu->items[i].parent == id) {
			return true;
		}
	}
	return false;
}

static const char *const prop_names[] = {"children-display", "type", "label", "enabled",
	"visible", "toggle-type", "toggle-state", "icon-data"};
#define N_PROPS (sizeof(prop_names) / sizeof(prop_names[0]))

/*
 * Appends the variant of property prop_names[p] of an item (NULL: the root)
 * if it differs from the default; 0: it does not, -1: out of memory.
 */
static int put_value(DBusMessageIter *to, const struct vd_tray_menu *menu,
		const struct vd_tray_menu_item *item, size_t p) {
	DBusMessageIter v, array;
	const char *s = NULL;
	dbus_bool_t no = FALSE;
	dbus_int32_t state;
	switch (p) {
	case 0:
		if (item != NULL && !(item->flags & VD_LINK_MENU_ITEM_FLAGS_SUBMENU) &&
				!has_children(menu, item->id)) {
			return 0;
		}
		s = "submenu";
		break;
	case 1:
		if (item == NULL || item->type != VD_LINK_MENU_ITEM_TYPE_SEPARATOR) {
			return 0;
		}
		s = "separator";
		break;
	case 2:
		if (item == NULL || item->label == NULL ||
				item->type == VD_LINK_MENU_ITEM_TYPE_SEPARATOR) {
			return 0;
		}
		s = item->label;
		break;
	case 3:
	case 4:
		if (item == NULL || (item->flags & (p == 3 ? VD_LINK_MENU_ITEM_FLAGS_ENABLED :
				VD_LINK_MENU_ITEM_FLAGS_VISIBLE))) {
			return 0;
		}
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "b", &v) &&
			dbus_message_iter_append_basic(&v, DBUS_TYPE_BOOLEAN, &no) &&
			dbus_message_iter_close_container(to, &v) ? 1 : -1;
	case 5:
		if (item == NULL || item->toggle == VD_LINK_MENU_TOGGLE_NONE) {
			return 0;
		}
		s = item->toggle == VD_LINK_MENU_TOGGLE_RADIO ? "radio" : "checkmark";
		break;
	case 6:
		if (item == NULL || item->toggle == VD_LINK_MENU_TOGGLE_NONE) {
			return 0;
		}
		state = item->toggle_state == VD_LINK_MENU_TOGGLE_STATE_OFF ? 0 :
			item->toggle_state == VD_LINK_MENU_TOGGLE_STATE_ON ? 1 : -1;
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "i", &v) &&
			dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &state) &&
			dbus_message_iter_close_container(to, &v) ? 1 : -1;
	default:
		if (item == NULL || item->png == NULL) {
			return 0;
		}
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "ay", &v) &&
			dbus_message_iter_open_container(&v, DBUS_TYPE_ARRAY, "y", &array) &&
			dbus_message_iter_append_fixed_array(&array, DBUS_TYPE_BYTE, &item->png,
				(int)item->png_len) &&
			dbus_message_iter_close_container(&v, &array) &&
			dbus_message_iter_close_container(to, &v) ? 1 : -1;
	}
	return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "s", &v) &&
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &s) &&
		dbus_message_iter_close_container(to, &v) ? 1 : -1;
}

/* a{sv} of an item (NULL: the root): what differs from the defaults, of the names asked. */
static bool put_props(DBusMessageIter *to, const struct vd_tray_menu *menu,
		const struct vd_tray_menu_item *item, DBusMessageIter *names) {
	DBusMessageIter dict;
	if (!dbus_message_iter_open_container(to, DBUS_TYPE_ARRAY, "{sv}", &dict)) {
		return false;
	}
	for (size_t p = 0; p < N_PROPS; p++) {
		if (!wanted(names, prop_names[p])) {
			continue;
		}
		/* a dict entry only for a value that is there: try it in a scratch message */
		DBusMessage *scratch = dbus_message_new(DBUS_MESSAGE_TYPE_METHOD_RETURN);
		DBusMessageIter sw;
		if (scratch == NULL) {
			return false;
		}
		dbus_message_iter_init_append(scratch, &sw);
		int present = put_value(&sw, menu, item, p);
		dbus_message_unref(scratch);
		if (present < 0) {
			return false;
		}
		if (present == 0) {
			continue;
		}
		DBusMessageIter entry;
		if (!dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) ||
				!dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &prop_names[p]) ||
				put_value(&entry, menu, item, p) != 1 ||
				!dbus_message_iter_close_container(&dict, &entry)) {
			return false;
		}
	}
	return dbus_message_iter_close_container(to, &dict);
}

/* (ia{sv}av) of id (0: the root), its children down to depth levels (-1: all). */
static bool put_layout(DBusMessageIter *to, const struct vd_tray_menu *menu, int32_t id,
		int32_t depth, DBusMessageIter *names) {
	const struct vd_tray_menu_item *item = id == 0 ? NULL : find(menu, id);
	DBusMessageIter st, children;
	bool ok = dbus_message_iter_open_container(to, DBUS_TYPE_STRUCT, NULL, &st) &&
		dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &id) &&
		put_props(&st, menu, item, names) &&
		dbus_message_iter_open_container(&st, DBUS_TYPE_ARRAY, "v", &children);
	for (uint32_t i = 0; ok && depth != 0 && i < menu->count; i++) {
		if (menu->items[i].parent != id) {
			continue;
		}
		DBusMessageIter v;
		ok = dbus_message_iter_open_container(&children, DBUS_TYPE_VARIANT, "(ia{sv}av)", &v) &&
			put_layout(&v, menu, menu->items[i].id, depth < 0 ? -1 : depth - 1, names) &&
			dbus_message_iter_close_container(&children, &v);
	}
	return ok && dbus_message_iter_close_container(&st, &children) &&
		dbus_message_iter_close_container(to, &st);
}

/* ---- methods ---- */

static void send_reply(struct vd_dbus *bus, DBusMessage *reply, bool ok) {
	if (reply == NULL) {
		return;
	}
	if (ok) {
		vd_dbus_send(bus, reply);
	}
	dbus_message_unref(reply);
}

static void get_layout(struct vd_tray_menu *menu, struct vd_dbus *bus, DBusMessage *call) {
	DBusMessageIter args, names;
	dbus_int32_t parent, depth;
	dbus_message_iter_init(call, &args);
	dbus_message_iter_get_basic(&args, &parent);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &depth);
	dbus_message_iter_next(&args);
	dbus_message_iter_recurse(&args, &names);
	if (parent != 0 && find(menu, parent) == NULL) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "no item %d", parent);
		return;
	}
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply == NULL) {
		return;
	}
	dbus_uint32_t revision = menu->revision;
	DBusMessageIter out;
	dbus_message_iter_init_append(reply, &out);
	bool ok = dbus_message_iter_append_basic(&out, DBUS_TYPE_UINT32, &revision) &&
		put_layout(&out, menu, parent, depth < -1 ? -1 : depth, &names);
	send_reply(bus, reply, ok);
}

static void get_group(struct vd_tray_menu *menu, struct vd_dbus *bus, DBusMessage *call) {
	DBusMessageIter args, ids, names, out, array, st;
	dbus_message_iter_init(call, &args);
	dbus_message_iter_recurse(&args, &ids);
	dbus_message_iter_next(&args);
	dbus_message_iter_recurse(&args, &names);
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply == NULL) {
		return;
	}
	dbus_message_iter_init_append(reply, &out);
	bool ok = dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "(ia{sv})", &array);
	bool all = dbus_message_iter_get_arg_type(&ids) != DBUS_TYPE_INT32;
	for (uint32_t i = 0; ok && i <= menu->count; i++) {
		int32_t id = i == menu->count ? 0 : menu->items[i].id;
		bool take = all;
		DBusMessageIter it = ids;
		while (!take && dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_INT32) {
			dbus_int32_t want;
			dbus_message_iter_get_basic(&it, &want);
			take = want == id;
			dbus_message_iter_next(&it);
		}
		if (!take) {
			continue;
		}
		ok = dbus_message_iter_open_container(&array, DBUS_TYPE_STRUCT, NULL, &st) &&
			dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &id) &&
			put_props(&st, menu, id == 0 ? NULL : &menu->items[i], &names) &&
			dbus_message_iter_close_container(&array, &st);
	}
	ok = ok && dbus_message_iter_close_container(&out, &array);
	send_reply(bus, reply, ok);
}

static void get_property(struct vd_tray_menu *menu, struct vd_dbus *bus, DBusMessage *call) {
	dbus_int32_t id;
	const char *name;
	dbus_message_get_args(call, NULL, DBUS_TYPE_INT32, &id, DBUS_TYPE_STRING, &name,
		DBUS_TYPE_INVALID);
	const struct vd_tray_menu_item *item = id == 0 ? NULL : find(menu, id);
	size_t p = 0;
	while (p < N_PROPS && strcmp(prop_names[p], name) != 0) {
		p++;
	}
	DBusMessage *reply = dbus_message_new_method_return(call);
	DBusMessageIter out;
	int present = 0;
	if (reply != NULL && (id == 0 || item != NULL) && p < N_PROPS) {
		dbus_message_iter_init_append(reply, &out);
		present = put_value(&out, menu, item, p);
	}
	if (present != 1) {
		if (reply != NULL) {
			dbus_message_unref(reply);
		}
		vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "item %d has no %s", id, name);
		return;
	}
	send_reply(bus, reply, true);
}

static int event_kind(const char *name) {
	static const char *const names[] = {"clicked", "hovered", "opened", "closed"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, names[i]) == 0) {
			return i + 1;
		}
	}
	return 0;
}

/* One event: true if the item exists. */
static bool event(struct vd_tray_menu *menu, int32_t id, const char *name) {
	int kind = event_kind(name);
	if (id < 0 || (id != 0 && find(menu, id) == NULL)) {
		return false;
	}
	if (kind != 0 && (id != 0 || kind == VD_LINK_MENU_EVENT_KIND_OPENED ||
			kind == VD_LINK_MENU_EVENT_KIND_CLOSED)) {
		menu->event(menu->data, (uint32_t)id, (uint8_t)kind);
	}
	return true;
}

static void reply_ids(struct vd_dbus *bus, DBusMessage *call, const int32_t *a, size_t na,
		const int32_t *b, size_t nb, bool two) {
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply == NULL) {
		return;
	}
	bool ok = dbus_message_append_args(reply, DBUS_TYPE_ARRAY, DBUS_TYPE_INT32, &a, (int)na,
		DBUS_TYPE_INVALID);
	if (ok && two) {
		ok = dbus_message_append_args(reply, DBUS_TYPE_ARRAY, DBUS_TYPE_INT32, &b, (int)nb,
			DBUS_TYPE_INVALID);
	}
	send_reply(bus, reply, ok);
}

static void event_group(struct vd_tray_menu *menu, struct vd_dbus *bus, DBusMessage *call) {
	DBusMessageIter args, array;
	dbus_message_iter_init(call, &args);
	dbus_message_iter_recurse(&args, &array);
	int32_t errors[VD_LINK_MAX_MENU_ITEMS];
	size_t nerrors = 0, n = 0;
	/* at most as many events as the menu has items (and the root): no flood reaches the VM */
	for (; dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_STRUCT &&
			n <= VD_LINK_MAX_MENU_ITEMS; dbus_message_iter_next(&array), n++) {
		DBusMessageIter st;
		dbus_int32_t id;
		const char *name;
		dbus_message_iter_recurse(&array, &st);
		dbus_message_iter_get_basic(&st, &id);
		dbus_message_iter_next(&st);
		dbus_message_iter_get_basic(&st, &name);
		if (!event(menu, id, name) && nerrors < VD_LINK_MAX_MENU_ITEMS) {
			errors[nerrors++] = id;
		}
	}
	reply_ids(bus, call, errors, nerrors, NULL, 0, false);
}

static void about_to_show(struct vd_tray_menu *menu, struct vd_dbus *bus, DBusMessage *call,
		bool group) {
	int32_t errors[VD_LINK_MAX_MENU_ITEMS];
	size_t nerrors = 0;
	if (!group) {
		dbus_int32_t id;
		dbus_message_get_args(call, NULL, DBUS_TYPE_INT32, &id, DBUS_TYPE_INVALID);
		if (id != 0 && find(menu, id) == NULL) {
			vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "no item %d", id);
			return;
		}
		menu->event(menu->data, (uint32_t)id, VD_LINK_MENU_EVENT_KIND_ABOUT_TO_SHOW);
		DBusMessage *reply = dbus_message_new_method_return(call);
		dbus_bool_t no = FALSE;
		send_reply(bus, reply, reply != NULL && dbus_message_append_args(reply,
			DBUS_TYPE_BOOLEAN, &no, DBUS_TYPE_INVALID));
		return;
	}
	DBusMessageIter args, array;
	dbus_message_iter_init(call, &args);
	dbus_message_iter_recurse(&args, &array);
	for (size_t n = 0; dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_INT32 &&
			n <= VD_LINK_MAX_MENU_ITEMS; dbus_message_iter_next(&array), n++) {
		dbus_int32_t id;
		dbus_message_iter_get_basic(&array, &id);
		if (id != 0 && find(menu, id) == NULL) {
			if (nerrors < VD_LINK_MAX_MENU_ITEMS) {
				errors[nerrors++] = id;
			}
		} else {
			menu->event(menu->data, (uint32_t)id, VD_LINK_MENU_EVENT_KIND_ABOUT_TO_SHOW);
		}
	}
	reply_ids(bus, call, NULL, 0, errors, nerrors, true);
}

static bool put_menu_property(DBusMessageIter *to, const char *name) {
	DBusMessageIter v, array;
	if (strcmp(name, "Version") == 0) {
		dbus_uint32_t version = 3;
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "u", &v) &&
			dbus_message_iter_append_basic(&v, DBUS_TYPE_UINT32, &version) &&
			dbus_message_iter_close_container(to, &v);
	}
	if (strcmp(name, "IconThemePath") == 0) {
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "as", &v) &&
			dbus_message_iter_open_container(&v, DBUS_TYPE_ARRAY, "s", &array) &&
			dbus_message_iter_close_container(&v, &array) &&
			dbus_message_iter_close_container(to, &v);
	}
	const char *value = strcmp(name, "TextDirection") == 0 ? "ltr" : "normal";
	return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "s", &v) &&
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &value) &&
		dbus_message_iter_close_container(to, &v);
}

static void properties(struct vd_dbus *bus, DBusMessage *call) {
	static const char *const names[] = {"Version", "TextDirection", "Status", "IconThemePath"};
	const char *iface, *name;
	bool ok;
	if (!vd_dbus_properties_call(bus, call, &iface, &name, &ok)) {
		return; // read-only: Set (or anything else) is no Get
	}
	bool all = dbus_message_has_member(call, "GetAll");
	bool known = false;
	for (size_t i = 0; name != NULL && i < 4; i++) {
		known = known || strcmp(name, names[i]) == 0;
	}
	if (!ok || (!all && !known)) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_UNKNOWN_PROPERTY, "no such property");
		return;
	}
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply == NULL) {
		return;
	}
	DBusMessageIter args, dict, entry;
	dbus_message_iter_init_append(reply, &args);
	if (!all) {
		ok = put_menu_property(&args, name);
	} else {
		ok = dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sv}", &dict);
		for (size_t i = 0; ok && i < 4 && strcmp(iface, IFACE) == 0; i++) {
			ok = dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
				dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &names[i]) &&
				put_menu_property(&entry, names[i]) &&
				dbus_message_iter_close_container(&dict, &entry);
		}
		ok = ok && dbus_message_iter_close_container(&args, &dict);
	}
	send_reply(bus, reply, ok);
}

DBusHandlerResult vd_tray_menu_handle(struct vd_tray_menu *menu, struct vd_dbus *bus,
		DBusMessage *call) {
	if (dbus_message_is_method_call(call, IFACE, "GetLayout") &&
			dbus_message_has_signature(call, "iias")) {
		get_layout(menu, bus, call);
	} else if (dbus_message_is_method_call(call, IFACE, "GetGroupProperties") &&
			dbus_message_has_signature(call, "aias")) {
		get_group(menu, bus, call);
	} else if (dbus_message_is_method_call(call, IFACE, "GetProperty") &&
			dbus_message_has_signature(call, "is")) {
		get_property(menu, bus, call);
	} else if (dbus_message_is_method_call(call, IFACE, "Event") &&
			dbus_message_has_signature(call, "isvu")) {
		dbus_int32_t id;
		const char *name;
		DBusMessageIter args;
		dbus_message_iter_init(call, &args);
		dbus_message_iter_get_basic(&args, &id);
		dbus_message_iter_next(&args);
		dbus_message_iter_get_basic(&args, &name);
		if (!event(menu, id, name)) {
			vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "no item %d", id);
		} else if (!dbus_message_get_no_reply(call)) {
			send_reply(bus, dbus_message_new_method_return(call), true);
		}
	} else if (dbus_message_is_method_call(call, IFACE, "EventGroup") &&
			dbus_message_has_signature(call, "a(isvu)")) {
		event_group(menu, bus, call);
	} else if (dbus_message_is_method_call(call, IFACE, "AboutToShow") &&
			dbus_message_has_signature(call, "i")) {
		about_to_show(menu, bus, call, false);
	} else if (dbus_message_is_method_call(call, IFACE, "AboutToShowGroup") &&
			dbus_message_has_signature(call, "ai")) {
		about_to_show(menu, bus, call, true);
	} else if (dbus_message_has_interface(call, DBUS_INTERFACE_PROPERTIES)) {
		properties(bus, call);
	} else if (dbus_message_is_method_call(call, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
		vd_dbus_reply_introspect(bus, call, introspection);
	} else {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	return DBUS_HANDLER_RESULT_HANDLED;
}
