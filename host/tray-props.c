#include <stdlib.h>
#include <string.h>

#include "host/tray-props.h"

#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define MENU_PATH "/MenuBar"

const int vd_tray_pixmap_sizes[VD_TRAY_PIXMAP_SIZES] = {24, 48};

static const char introspection[] =
	DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE
	"<node>\n"
	" <interface name=\"" ITEM_IFACE "\">\n"
	"  <property name=\"Category\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"Id\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"Title\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"Status\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"WindowId\" type=\"i\" access=\"read\"/>\n"
	"  <property name=\"IconThemePath\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"IconName\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"IconPixmap\" type=\"a(iiay)\" access=\"read\"/>\n"
	"  <property name=\"OverlayIconName\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"OverlayIconPixmap\" type=\"a(iiay)\" access=\"read\"/>\n"
	"  <property name=\"AttentionIconName\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"AttentionIconPixmap\" type=\"a(iiay)\" access=\"read\"/>\n"
	"  <property name=\"AttentionMovieName\" type=\"s\" access=\"read\"/>\n"
	"  <property name=\"ToolTip\" type=\"(sa(iiay)ss)\" access=\"read\"/>\n"
	"  <property name=\"ItemIsMenu\" type=\"b\" access=\"read\"/>\n"
	"  <property name=\"Menu\" type=\"o\" access=\"read\"/>\n"
	"  <method name=\"ContextMenu\"><arg type=\"i\" direction=\"in\"/>"
	"<arg type=\"i\" direction=\"in\"/></method>\n"
	"  <method name=\"Activate\"><arg type=\"i\" direction=\"in\"/>"
	"<arg type=\"i\" direction=\"in\"/></method>\n"
	"  <method name=\"SecondaryActivate\"><arg type=\"i\" direction=\"in\"/>"
	"<arg type=\"i\" direction=\"in\"/></method>\n"
	"  <method name=\"Scroll\"><arg type=\"i\" direction=\"in\"/>"
	"<arg type=\"s\" direction=\"in\"/></method>\n"
	"  <signal name=\"NewTitle\"/>\n"
	"  <signal name=\"NewIcon\"/>\n"
	"  <signal name=\"NewAttentionIcon\"/>\n"
	"  <signal name=\"NewOverlayIcon\"/>\n"
	"  <signal name=\"NewToolTip\"/>\n"
	"  <signal name=\"NewStatus\"><arg type=\"s\"/></signal>\n"
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

static void pixmaps_finish(struct vd_tray_pixmaps *p) {
	for (size_t i = 0; i < VD_TRAY_PIXMAP_SIZES; i++) {
		free(p->argb[i]);
	}
	*p = (struct vd_tray_pixmaps){0};
}

const char *vd_tray_status_name(uint8_t status) {
	return status == VD_LINK_TRAY_STATUS_PASSIVE ? "Passive" :
		status == VD_LINK_TRAY_STATUS_NEEDS_ATTENTION ? "NeedsAttention" : "Active";
}

static bool put_pixmaps(DBusMessageIter *to, const struct vd_tray_pixmaps *p) {
	DBusMessageIter array, st, bytes;
	if (!dbus_message_iter_open_container(to, DBUS_TYPE_ARRAY, "(iiay)", &array)) {
		return false;
	}
	for (size_t i = 0; i < VD_TRAY_PIXMAP_SIZES; i++) {
		if (p->argb[i] == NULL) {
			continue;
		}
		dbus_int32_t size = vd_tray_pixmap_sizes[i];
		const uint8_t *data = p->argb[i];
		if (!dbus_message_iter_open_container(&array, DBUS_TYPE_STRUCT, NULL, &st) ||
				!dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &size) ||
				!dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &size) ||
				!dbus_message_iter_open_container(&st, DBUS_TYPE_ARRAY, "y", &bytes) ||
				!dbus_message_iter_append_fixed_array(&bytes, DBUS_TYPE_BYTE, &data,
					(int)p->len[i]) ||
				!dbus_message_iter_close_container(&st, &bytes) ||
				!dbus_message_iter_close_container(&array, &st)) {
			return false;
		}
	}
	return dbus_message_iter_close_container(to, &array);
}

static const char *const prop_names[] = {"Category", "Id", "Title", "Status", "WindowId",
	"IconThemePath", "IconName", "IconPixmap", "OverlayIconName", "OverlayIconPixmap",
	"AttentionIconName", "AttentionIconPixmap", "AttentionMovieName", "ToolTip", "ItemIsMenu",
	"Menu"};
#define N_PROPS (sizeof(prop_names) / sizeof(prop_names[0]))

/* The variant of property p; false if out of memory (or a Menu it has not). */
static bool put_prop(DBusMessageIter *to, const struct vd_tray_props *item, size_t p) {
	static const char *const categories[] = {"ApplicationStatus", "Communications",
		"SystemServices", "Hardware"};
	const char *name = prop_names[p];
	DBusMessageIter v, st, empty;
	const char *s = "";
	if (strcmp(name, "IconPixmap") == 0 || strcmp(name, "AttentionIconPixmap") == 0 ||
			strcmp(name, "OverlayIconPixmap") == 0) {
		int k = name[0] == 'I' ? 0 : name[0] == 'A' ? 1 : 2;
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "a(iiay)", &v) &&
			put_pixmaps(&v, &item->icons[k]) && dbus_message_iter_close_container(to, &v);
	}
	if (strcmp(name, "WindowId") == 0) {
		dbus_int32_t zero = 0;
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "i", &v) &&
			dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &zero) &&
			dbus_message_iter_close_container(to, &v);
	}
	if (strcmp(name, "ItemIsMenu") == 0) {
		dbus_bool_t b = item->item_is_menu;
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "b", &v) &&
			dbus_message_iter_append_basic(&v, DBUS_TYPE_BOOLEAN, &b) &&
			dbus_message_iter_close_container(to, &v);
	}
	if (strcmp(name, "Menu") == 0) {
		const char *path = MENU_PATH;
		return item->has_menu &&
			dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "o", &v) &&
			dbus_message_iter_append_basic(&v, DBUS_TYPE_OBJECT_PATH, &path) &&
			dbus_message_iter_close_container(to, &v);
	}
	if (strcmp(name, "ToolTip") == 0) {
		const char *title = item->tip_title, *body = item->tip_body, *icon = "";
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "(sa(iiay)ss)", &v) &&
			dbus_message_iter_open_container(&v, DBUS_TYPE_STRUCT, NULL, &st) &&
			dbus_message_iter_append_basic(&st, DBUS_TYPE_STRING, &icon) &&
			dbus_message_iter_open_container(&st, DBUS_TYPE_ARRAY, "(iiay)", &empty) &&
			dbus_message_iter_close_container(&st, &empty) &&
			dbus_message_iter_append_basic(&st, DBUS_TYPE_STRING, &title) &&
			dbus_message_iter_append_basic(&st, DBUS_TYPE_STRING, &body) &&
			dbus_message_iter_close_container(&v, &st) &&
			dbus_message_iter_close_container(to, &v);
	}
	if (strcmp(name, "Category") == 0) {
		s = categories[item->category - 1];
	} else if (strcmp(name, "Id") == 0) {
		s = item->id;
	} else if (strcmp(name, "Title") == 0) {
		s = item->title;
	} else if (strcmp(name, "Status") == 0) {
		s = vd_tray_status_name(item->status);
	}
	return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "s", &v) &&
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &s) &&
		dbus_message_iter_close_container(to, &v);
}

static void handle_properties(const struct vd_tray_props *item, struct vd_dbus *bus,
		DBusMessage *call) {
	const char *iface, *name;
	bool ok;
	if (!vd_dbus_properties_call(bus, call, &iface, &name, &ok)) {
		return; // read-only: Set (or anything else) is no Get
	}
	bool all = dbus_message_has_member(call, "GetAll");
	size_t which = N_PROPS;
	for (size_t i = 0; name != NULL && i < N_PROPS; i++) {
		which = strcmp(name, prop_names[i]) == 0 ? i : which;
	}
	bool no_menu = which < N_PROPS && strcmp(prop_names[which], "Menu") == 0 && !item->has_menu;
	if (!ok || (!all && (which == N_PROPS || no_menu))) {
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
		ok = put_prop(&args, item, which);
	} else {
		ok = dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sv}", &dict);
		for (size_t i = 0; ok && i < N_PROPS && strcmp(iface, ITEM_IFACE) == 0; i++) {
			if (strcmp(prop_names[i], "Menu") == 0 && !item->has_menu) {
				continue;
			}
			ok = dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
				dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &prop_names[i]) &&
				put_prop(&entry, item, i) && dbus_message_iter_close_container(&dict, &entry);
		}
		ok = ok && dbus_message_iter_close_container(&args, &dict);
	}
	if (ok) {
		vd_dbus_send(bus, reply);
	}
	dbus_message_unref(reply);
}

bool vd_tray_props_handle(const struct vd_tray_props *props, struct vd_dbus *bus,
		DBusMessage *call) {
	if (dbus_message_get_type(call) != DBUS_MESSAGE_TYPE_METHOD_CALL) {
		return false;
	}
	if (dbus_message_has_interface(call, DBUS_INTERFACE_PROPERTIES)) {
		handle_properties(props, bus, call);
		return true;
	}
	if (!dbus_message_is_method_call(call, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
		return false;
	}
	vd_dbus_reply_introspect(bus, call, introspection);
	return true;
}

void vd_tray_props_finish(struct vd_tray_props *props) {
	for (int k = 0; k < 3; k++) {
		pixmaps_finish(&props->icons[k]);
	}
	free(props->id);
	free(props->title);
	free(props->tip_title);
	free(props->tip_body);
	*props = (struct vd_tray_props){0};
}

void vd_tray_props_set_icon(struct vd_tray_props *props, int k, const uint8_t *rgba,
		uint32_t width, uint32_t height, const struct vd_vmconf *conf, enum vd_icon_mode mode) {
	pixmaps_finish(&props->icons[k]);
	if (rgba == NULL && k != 0) {
		return; // no attention or overlay icon
	}
	for (size_t i = 0; i < VD_TRAY_PIXMAP_SIZES; i++) {
		int size = vd_tray_pixmap_sizes[i];
		cairo_surface_t *s = rgba != NULL ?
			vd_icon_frame(rgba, width, height, conf->color, mode, size) :
			vd_icon_badge(conf->color, conf->name, size);
		if (s != NULL) {
			props->icons[k].argb[i] = vd_icon_argb_be(s, &props->icons[k].len[i]);
			cairo_surface_destroy(s);
		}
	}
}
