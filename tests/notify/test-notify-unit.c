#include <dbus/dbus.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoration/icon.h"
#include "decoration/title.h"
#include "guest/image.h"
#include "guest/tray-menu.h"
#include "host/vmconf.h"
#include "protocols/link.h"
#include "protocols/names.h"
#include "protocols/rate.h"
#include "protocols/text.h"
#include "tests/unit/tap.h"

/* Unit tests of the rules under notifications and tray: text blocks, markup,
 * action keys, categories, the menu check, icons in the VM's color (and
 * QSB-104), floods, the guest's image and menu readers, the tray key. */

static bool test_text_block(void) {
	char *s = vd_text_block_sanitize("a\r\nb\rc\n\n\n\nd  e\x1b[31m\xe2\x80\xae", 500, 1000);
	CHECK_STR(s, "a\nb\nc\n\nd e[31m");
	free(s);
	s = vd_text_block_sanitize("\n\nfirst\n", 500, 1000);
	CHECK_STR(s, "first");
	free(s);
	char *long_line = malloc(2501);
	memset(long_line, 'x', 2500);
	long_line[2500] = '\0';
	s = vd_text_block_sanitize(long_line, 500, 10000);
	CHECK(s != NULL && strlen(s) == 2502 && s[1000] == '\n' && s[2001] == '\n', "wrapped: %zu",
		s ? strlen(s) : 0);
	free(s);
	s = vd_text_block_sanitize(long_line, 2, 10000);
	CHECK(s != NULL && strstr(s, "\xe2\x80\xa6") != NULL && strchr(s, '\n') != NULL &&
		strchr(strchr(s, '\n') + 1, '\n') == NULL, "two lines and an ellipsis");
	free(s);
	s = vd_text_block_sanitize(long_line, 500, 100);
	CHECK(s != NULL && strlen(s) <= 100, "capped at 100 bytes: %zu", s ? strlen(s) : 0);
	free(s);
	free(long_line);
	s = vd_text_block_sanitize("\xff\xfe ok", 500, 100);
	CHECK_STR(s, "\xef\xbf\xbd ok");
	CHECK(vd_text_valid(s, strlen(s), VD_TEXT_NEWLINES), "mtext");
	free(s);
	return true;
}

static bool test_markup_escape(void) {
	char *s = vd_text_markup_escape("<b>a & \"b\" 'c'</b>");
	CHECK_STR(s, "&lt;b&gt;a &amp; &quot;b&quot; &apos;c&apos;&lt;/b&gt;");
	free(s);
	return true;
}

static bool test_action_keys_and_categories(void) {
	static const char *const good[] = {"default", "a", "app.open-file::42", "Z.9_-:"};
	static const char *const bad[] = {"", "1abc", "a b", "a/b", "\xc3\xa9t\xc3\xa9", "-x"};
	for (size_t i = 0; i < 4; i++) {
		CHECK(vd_action_key_valid(good[i], strlen(good[i])), "refused %s", good[i]);
	}
	for (size_t i = 0; i < 6; i++) {
		CHECK(!vd_action_key_valid(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
	}
	char key[257];
	memset(key, 'k', sizeof(key));
	CHECK(vd_action_key_valid(key, 255) && !vd_action_key_valid(key, 256), "255 bytes");
	CHECK(vd_notify_category_valid("email.arrived", 13) && vd_notify_category_valid("im", 2),
		"good categories");
	CHECK(!vd_notify_category_valid("Email", 5) && !vd_notify_category_valid("email.", 6) &&
		!vd_notify_category_valid(".email", 6) && !vd_notify_category_valid("e-mail", 6) &&
		!vd_notify_category_valid("", 0), "bad categories");
	memset(key, 'a', sizeof(key));
	CHECK(vd_notify_category_valid(key, 64) && !vd_notify_category_valid(key, 65), "64 bytes");
	return true;
}

static bool menu_ok(struct vd_link_tray_menu_items *items, uint32_t n, char *err) {
	struct vd_link_msg msg = {.type = VD_LINK_TRAY_MENU, .id = 1};
	msg.body.tray_menu.items = items;
	msg.body.tray_menu.items_count = n;
	return vd_link_validate(&vd_link_guest, &msg, err, 256);
}

static bool test_menu_check(void) {
	char err[256];
	struct vd_link_tray_menu_items items[6];
	for (uint32_t i = 0; i < 6; i++) {
		items[i] = (struct vd_link_tray_menu_items){.id = i + 1, .parent = i, .type = 1,
			.label = ""};
	}
	CHECK(menu_ok(items, 4, err), "4 levels: %s", err);
	CHECK(!menu_ok(items, 5, err) && strstr(err, "deeper") != NULL, "5 levels: %s", err);
	items[1].parent = 3; // before its parent
	CHECK(!menu_ok(items, 3, err) && strstr(err, "not before") != NULL, "order: %s", err);
	items[1].parent = 1;
	items[2].id = 1;
	CHECK(!menu_ok(items, 3, err) && strstr(err, "twice") != NULL, "duplicate: %s", err);
	items[2].id = 3;
	items[0].icon_width = 2;
	items[0].icon_height = 2;
	items[0].icon_len = 15;
	uint8_t icon[16] = {0};
	items[0].icon = icon;
	CHECK(!menu_ok(items, 1, err), "lying icon");
	items[0].icon_len = 16;
	CHECK(menu_ok(items, 1, err), "icon: %s", err);
	return true;
}

static uint32_t argb_at(cairo_surface_t *s, int x, int y) {
	cairo_surface_flush(s);
	const uint8_t *data = cairo_image_surface_get_data(s);
	return ((const uint32_t *)(const void *)(data + y * cairo_image_surface_get_stride(s)))[x];
}

static bool test_icons(void) {
	struct vd_color red = {0xcc, 0, 0};
	uint8_t green[16 * 16 * 4];
	for (size_t i = 0; i < 16 * 16; i++) {
		memcpy(green + i * 4, (uint8_t[]){0, 255, 0, 255}, 4);
	}
	cairo_surface_t *s = vd_icon_frame(green, 16, 16, red, VD_ICON_BORDER, 48);
	CHECK(s != NULL && cairo_image_surface_get_width(s) == 48, "framed");
	CHECK(argb_at(s, 0, 0) == 0xffcc0000 && argb_at(s, 47, 47) == 0xffcc0000, "border %08x",
		argb_at(s, 0, 0));
	CHECK(argb_at(s, 24, 24) == 0xff00ff00, "center %08x", argb_at(s, 24, 24));
	size_t len;
	uint8_t *be = vd_icon_argb_be(s, &len);
	CHECK(be != NULL && len == 48 * 48 * 4 && be[0] == 0xff && be[1] == 0xcc && be[2] == 0,
		"SNI bytes");
	free(be);
	cairo_surface_destroy(s);
	s = vd_icon_frame(green, 16, 16, red, VD_ICON_TINT, 32);
	uint32_t p = argb_at(s, 16, 16);
	CHECK((p >> 16 & 0xff) > (p >> 8 & 0xff), "tinted toward red: %08x", p);
	cairo_surface_destroy(s);
	/* QSB-104: R=255 G=250 B=0 A=254 must stay yellow, never wrap */
	uint8_t yellow[4] = {255, 250, 0, 254};
	s = vd_icon_frame(yellow, 1, 1, red, VD_ICON_PLAIN, 1);
	p = argb_at(s, 0, 0);
	CHECK((p >> 16 & 0xff) <= (p >> 24) && (p >> 8 & 0xff) <= (p >> 24) &&
		(p >> 8 & 0xff) > 200, "premultiplied, no wrap: %08x", p);
	cairo_surface_destroy(s);
	CHECK(vd_icon_frame(green, 0, 16, red, VD_ICON_BORDER, 48) == NULL &&
		vd_icon_frame(green, 257, 1, red, VD_ICON_BORDER, 48) == NULL, "refused sizes");
	s = vd_icon_badge(red, "work", 64);
	CHECK(s != NULL && argb_at(s, 1, 1) == 0xffcc0000, "badge");
	cairo_surface_destroy(s);
	return true;
}

static bool test_flood(void) {
	struct vd_rate rate;
	vd_rate_init(&rate, 2, 1000, 1000);
	bool flood;
	CHECK(vd_rate_take_or_drop(&rate, 1000, &flood) && vd_rate_take_or_drop(&rate, 1000, &flood),
		"burst");
	CHECK(!vd_rate_take_or_drop(&rate, 1001, &flood) && flood, "a flood starts");
	CHECK(!vd_rate_take_or_drop(&rate, 1500, &flood) && !flood, "the same flood");
	CHECK(vd_rate_take_or_drop(&rate, 2600, &flood), "refilled");
	CHECK(!vd_rate_take_or_drop(&rate, 2700, &flood) && !flood, "less than 5 s later: same");
	CHECK(vd_rate_take_or_drop(&rate, 9000, &flood), "refilled");
	vd_rate_take_or_drop(&rate, 9000, &flood);
	CHECK(!vd_rate_take_or_drop(&rate, 9000, &flood) && flood, "a new flood");
	return true;
}

static bool test_guest_images(void) {
	struct vd_guest_image img = {0};
	uint8_t px[16 * 16 * 4];
	memset(px, 0x80, sizeof(px));
	CHECK(vd_guest_image_from_data(16, 16, 64, true, 8, 4, px, sizeof(px), 8, &img) &&
		img.width == 8 && img.len == 8 * 8 * 4, "scaled to 8");
	CHECK(!vd_guest_image_from_data(16, 16, 63, true, 8, 4, px, sizeof(px), 8, &img), "stride");
	CHECK(!vd_guest_image_from_data(16, 16, 64, true, 8, 4, px, sizeof(px) - 1, 8, &img),
		"short");
	CHECK(!vd_guest_image_from_data(16, 16, 64, false, 8, 4, px, sizeof(px), 8, &img),
		"4 channels without alpha");
	CHECK(!vd_guest_image_from_data(16, 16, 64, true, 16, 4, px, sizeof(px), 8, &img), "16 bit");
	CHECK(!vd_guest_image_from_data(0, 16, 64, true, 8, 4, px, sizeof(px), 8, &img), "empty");
	CHECK(vd_guest_image_from_data(16, 16, 48, false, 8, 3, px, 16 * 48, 8, &img), "RGB");
	CHECK(!vd_guest_image_from_argb(16, 16, px, sizeof(px) - 4, 8, &img), "lying pixmap");
	CHECK(!vd_guest_image_from_argb(5000, 1, px, sizeof(px), 8, &img), "too wide");
	/* a PNG bomb: a valid header announcing 100000 x 100000 */
	uint8_t bomb[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D',
		'R', 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 6, 0, 0, 0};
	CHECK(!vd_guest_image_from_png(bomb, sizeof(bomb), 16, &img), "PNG bomb refused");
	vd_guest_image_finish(&img);
	return true;
}

/* (ia{sv}av) of id with a label, and children built by the caller */
static void open_node(DBusMessageIter *to, DBusMessageIter *st, DBusMessageIter *children,
		int32_t id, const char *label) {
	DBusMessageIter dict, entry, v;
	const char *key = "label";
	dbus_message_iter_open_container(to, DBUS_TYPE_STRUCT, NULL, st);
	dbus_message_iter_append_basic(st, DBUS_TYPE_INT32, &id);
	dbus_message_iter_open_container(st, DBUS_TYPE_ARRAY, "{sv}", &dict);
	dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry);
	dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key);
	dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "s", &v);
	dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &label);
	dbus_message_iter_close_container(&entry, &v);
	dbus_message_iter_close_container(&dict, &entry);
	dbus_message_iter_close_container(st, &dict);
	dbus_message_iter_open_container(st, DBUS_TYPE_ARRAY, "v", children);
}

static void close_node(DBusMessageIter *to, DBusMessageIter *st, DBusMessageIter *children) {
	dbus_message_iter_close_container(st, children);
	dbus_message_iter_close_container(to, st);
}

/* A chain of depth items under the root, then width leaves (ids repeat after 300). */
static void add_chain(DBusMessageIter *children, int32_t id, int depth) {
	DBusMessageIter v, st, sub;
	dbus_message_iter_open_container(children, DBUS_TYPE_VARIANT, "(ia{sv}av)", &v);
	open_node(&v, &st, &sub, id, "\x1b[1mchain\xe2\x80\xae");
	if (depth > 1) {
		add_chain(&sub, id + 1, depth - 1);
	}
	close_node(&v, &st, &sub);
	dbus_message_iter_close_container(children, &v);
}

static bool test_guest_menu_parse(void) {
	DBusMessage *reply = dbus_message_new(DBUS_MESSAGE_TYPE_METHOD_RETURN);
	DBusMessageIter args, st, children;
	dbus_uint32_t revision = 1;
	dbus_message_iter_init_append(reply, &args);
	dbus_message_iter_append_basic(&args, DBUS_TYPE_UINT32, &revision);
	open_node(&args, &st, &children, 0, "");
	add_chain(&children, 1000, 8);
	for (int32_t i = 0; i < 400; i++) {
		add_chain(&children, i % 300 - 5, 1); // negative, zero and repeated ids
	}
	close_node(&args, &st, &children);
	struct vd_guest_tray_menu *menu = calloc(1, sizeof(*menu));
	CHECK(vd_guest_tray_menu_parse(reply, NULL, 0, menu), "parsed");
	CHECK(menu->count == VD_LINK_MAX_MENU_ITEMS, "%u items", menu->count);
	CHECK(menu->items[0].id == 1000 && menu->items[3].id == 1003 &&
		menu->items[4].parent == 0, "the chain cut after 4 levels");
	for (uint32_t i = 0; i < menu->count; i++) {
		CHECK(menu->items[i].id > 0, "item %u has id %u", i, menu->items[i].id);
		CHECK_STR(menu->items[i].label, "[1mchain");
	}
	char err[256];
	struct vd_link_msg msg = {.type = VD_LINK_TRAY_MENU, .id = 1};
	msg.body.tray_menu.items = menu->items;
	msg.body.tray_menu.items_count = menu->count;
	CHECK(vd_link_validate(&vd_link_guest, &msg, err, sizeof(err)), "the link takes it: %s", err);
	vd_guest_tray_menu_finish(menu);
	free(menu);
	dbus_message_unref(reply);
	return true;
}

static bool test_tray_key(void) {
	char path[] = "/tmp/vd-tray-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "temp file");
	struct vd_vmconf conf;
	CHECK(write(fd, "[vm]\ncolor = red\n", 17) == 17, "write");
	CHECK(vd_vmconf_load(path, "work", &conf) && conf.tray, "default: on");
	CHECK(write(fd, "tray = no\n", 10) == 10, "write");
	CHECK(vd_vmconf_load(path, "work", &conf) && !conf.tray, "tray = no");
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0, "truncate");
	CHECK(write(fd, "[vm]\ncolor = red\ntray = maybe\n", 30) == 30, "write");
	CHECK(!vd_vmconf_load(path, "work", &conf) && strstr(conf.error, ":3: ") != NULL,
		"an error with its line: %s", conf.error);
	close(fd);
	unlink(path);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_text_block),
	TAP_CASE(test_markup_escape),
	TAP_CASE(test_action_keys_and_categories),
	TAP_CASE(test_menu_check),
	TAP_CASE(test_icons),
	TAP_CASE(test_flood),
	TAP_CASE(test_guest_images),
	TAP_CASE(test_guest_menu_parse),
	TAP_CASE(test_tray_key),
};

TAP_MAIN(cases)
