#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/interface.h"
#include "protocols/wire.h"
#include "tests/unit/tap.h"

/*
 * The wire parser against the generated tables: well-formed messages built
 * with the writer parse with the right values and offsets; every malformed
 * shape is refused with a reason.
 */

static uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];

static const struct vd_message *find_message(const char *iface_name, const char *name,
		bool request) {
	const struct vd_interface *iface = vd_interface_find(iface_name);
	if (iface == NULL) {
		return NULL;
	}
	uint16_t count = request ? iface->request_count : iface->event_count;
	const struct vd_message *msgs = request ? iface->requests : iface->events;
	for (uint16_t i = 0; i < count; i++) {
		if (strcmp(msgs[i].name, name) == 0) {
			return &msgs[i];
		}
	}
	return NULL;
}

/* Parses buf against desc, which must fail with an error containing want. */
static bool refused(const struct vd_message *desc, const char *want) {
	struct vd_wire_message msg;
	char err[256] = "";
	CHECK(!vd_wire_parse(desc, buf, &msg, err, sizeof(err)), "%s: accepted, want \"%s\"",
		desc->name, want);
	CHECK(strstr(err, want) != NULL, "%s: error \"%s\" does not say \"%s\"", desc->name,
		err, want);
	return true;
}

static bool parsed(const struct vd_message *desc, struct vd_wire_message *msg) {
	char err[256] = "";
	CHECK(vd_wire_parse(desc, buf, msg, err, sizeof(err)), "%s refused: %s", desc->name, err);
	return true;
}

/* wl_registry.bind(name, untyped new_id) = string, version, id */
static void write_bind(const char *iface, uint32_t version, uint32_t id) {
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 2, 0);
	vd_wire_writer_put_u32(&w, 7);
	vd_wire_writer_put_string(&w, iface);
	vd_wire_writer_put_u32(&w, version);
	vd_wire_writer_put_u32(&w, id);
	vd_wire_writer_finish(&w);
}

static void set_size(uint32_t size) {
	uint32_t word = vd_wire_get_u32(buf, 4);
	vd_wire_put_u32(buf, 4, size << 16 | (word & 0xffff));
}

static bool test_registry_bind(void) {
	const struct vd_message *bind = &vd_iface_wl_registry.requests[0];
	CHECK(strcmp(bind->name, "bind") == 0, "wl_registry request 0 is %s", bind->name);
	write_bind("wl_shm", 1, 5);
	struct vd_wire_message msg;
	if (!parsed(bind, &msg)) {
		return false;
	}
	CHECK(msg.header.object == 2 && msg.header.opcode == 0 && msg.header.size == 32,
		"header %u %u %u", msg.header.object, msg.header.opcode, msg.header.size);
	CHECK(msg.desc == bind, "desc");
	CHECK(msg.arg_count == 2 && msg.fd_count == 0, "%u args %u fds", msg.arg_count,
		msg.fd_count);
	CHECK(msg.args[0].type == VD_ARG_UINT && msg.args[0].u == 7 && msg.args[0].offset == 8,
		"name %u at %u", msg.args[0].u, msg.args[0].offset);
	const struct vd_wire_arg *id = &msg.args[1];
	CHECK(id->type == VD_ARG_NEW_ID && id->id == 5, "id %u", id->id);
	/* header 8, name 4, string length 4 + "wl_shm\0" padded to 8, version 4 */
	CHECK(id->offset == 28, "id offset %u", id->offset);
	CHECK(id->new_interface != NULL && strcmp(id->new_interface, "wl_shm") == 0,
		"interface %s", id->new_interface ? id->new_interface : "(null)");
	CHECK(id->new_interface == (const char *)buf + 16, "interface points into the message");
	CHECK(id->new_version == 1, "version %u", id->new_version);
	return true;
}

static bool test_shm_create_pool(void) {
	const struct vd_message *create_pool = &vd_iface_wl_shm.requests[0];
	CHECK(strcmp(create_pool->name, "create_pool") == 0, "wl_shm request 0 is %s",
		create_pool->name);
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 4, 0);
	vd_wire_writer_put_u32(&w, 9);
	vd_wire_writer_put_u32(&w, 4096);
	CHECK(vd_wire_writer_finish(&w), "writer overflow");
	struct vd_wire_message msg;
	if (!parsed(create_pool, &msg)) {
		return false;
	}
	CHECK(msg.header.size == 16, "size %u", msg.header.size);
	CHECK(msg.arg_count == 3 && msg.fd_count == 1, "%u args %u fds", msg.arg_count,
		msg.fd_count);
	CHECK(msg.args[0].type == VD_ARG_NEW_ID && msg.args[0].id == 9 && msg.args[0].offset == 8,
		"id %u at %u", msg.args[0].id, msg.args[0].offset);
	CHECK(msg.args[0].new_interface != NULL &&
		strcmp(msg.args[0].new_interface, "wl_shm_pool") == 0, "typed new_id interface");
	CHECK(msg.args[1].type == VD_ARG_FD, "arg 1 is %s",
		vd_wire_arg_type_name(msg.args[1].type));
	CHECK(msg.args[2].type == VD_ARG_INT && msg.args[2].i == 4096 && msg.args[2].offset == 12,
		"size %d at %u", msg.args[2].i, msg.args[2].offset);
	return true;
}

static bool test_negative_int(void) {
	const struct vd_message *attach = find_message("wl_surface", "attach", true);
	CHECK(attach != NULL, "wl_surface.attach not in the tables");
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 3, 1);
	vd_wire_writer_put_u32(&w, 0); // null buffer: allowed
	vd_wire_writer_put_u32(&w, (uint32_t)-5);
	vd_wire_writer_put_u32(&w, 0x80000000u);
	vd_wire_writer_finish(&w);
	struct vd_wire_message msg;
	if (!parsed(attach, &msg)) {
		return false;
	}
	CHECK(msg.arg_count == 3 && msg.args[0].id == 0, "null buffer");
	CHECK(msg.args[1].i == -5 && msg.args[2].i == INT32_MIN, "%d %d", msg.args[1].i,
		msg.args[2].i);
	return true;
}

static bool test_set_title(void) {
	const struct vd_message *set_title = find_message("xdg_toplevel", "set_title", true);
	CHECK(set_title != NULL, "xdg_toplevel.set_title not in the tables");
	const char *title = "h\xc3\xa9llo w\xc3\xb6rld";
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 10, (uint16_t)(set_title - vd_interface_find(
		"xdg_toplevel")->requests));
	vd_wire_writer_put_string(&w, title);
	vd_wire_writer_finish(&w);
	struct vd_wire_message msg;
	if (!parsed(set_title, &msg)) {
		return false;
	}
	const struct vd_wire_arg *arg = &msg.args[0];
	CHECK(arg->type == VD_ARG_STRING && arg->offset == 8, "offset %u", arg->offset);
	CHECK(arg->str.data == (const char *)buf + 12, "string points into the message");
	CHECK(arg->str.length == strlen(title) + 1, "length %u", arg->str.length);
	CHECK(strcmp(arg->str.data, title) == 0, "title %s", arg->str.data);
	CHECK(msg.header.size == 8 + 4 + 16, "size %u", msg.header.size);
	return true;
}

/* Every string length from 1 to 9 bytes pads to the right size. */
static bool test_string_padding(void) {
	const struct vd_message *set_title = find_message("xdg_toplevel", "set_title", true);
	CHECK(set_title != NULL, "xdg_toplevel.set_title not in the tables");
	char title[16] = "";
	for (int len = 0; len < 9; len++) {
		struct vd_wire_writer w;
		vd_wire_writer_init(&w, buf, 10, 2);
		vd_wire_writer_put_string(&w, title);
		vd_wire_writer_finish(&w);
		struct vd_wire_message msg;
		if (!parsed(set_title, &msg)) {
			return false;
		}
		uint32_t want = 8 + 4 + (((uint32_t)len + 1 + 3) & ~3u);
		CHECK(msg.header.size == want, "len %d: size %u, want %u", len, msg.header.size,
			want);
		CHECK(msg.args[0].str.length == (uint32_t)len + 1, "len %d", len);
		title[len] = 'a';
	}
	return true;
}

static bool test_nullable_string(void) {
	const struct vd_message *accept = find_message("wl_data_offer", "accept", true);
	CHECK(accept != NULL, "wl_data_offer.accept not in the tables");
	CHECK(accept->args[1].type == VD_ARG_STRING && accept->args[1].nullable,
		"mime_type is a nullable string");
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 20, 0);
	vd_wire_writer_put_u32(&w, 42);
	vd_wire_writer_put_string(&w, NULL);
	vd_wire_writer_finish(&w);
	struct vd_wire_message msg;
	if (!parsed(accept, &msg)) {
		return false;
	}
	CHECK(msg.args[0].u == 42, "serial %u", msg.args[0].u);
	CHECK(msg.args[1].str.data == NULL && msg.args[1].str.length == 0, "null string");
	return true;
}

static const struct vd_message *keyboard_enter(void) {
	return find_message("wl_keyboard", "enter", false);
}

static bool test_array(void) {
	const struct vd_message *enter = keyboard_enter();
	CHECK(enter != NULL, "wl_keyboard.enter not in the tables");
	uint32_t keys[3] = { 30, 31, 32 };
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 0xff000003u, 1);
	vd_wire_writer_put_u32(&w, 77);
	vd_wire_writer_put_u32(&w, 12);
	vd_wire_writer_put_array(&w, keys, sizeof(keys));
	vd_wire_writer_finish(&w);
	struct vd_wire_message msg;
	if (!parsed(enter, &msg)) {
		return false;
	}
	CHECK(msg.header.object == 0xff000003u, "object %x", msg.header.object);
	CHECK(msg.args[0].u == 77 && msg.args[1].id == 12, "serial, surface");
	CHECK(msg.args[2].type == VD_ARG_ARRAY && msg.args[2].offset == 16, "array at %u",
		msg.args[2].offset);
	CHECK(msg.args[2].array.size == 12 && msg.args[2].array.data == buf + 20,
		"array size %u", msg.args[2].array.size);
	CHECK(memcmp(msg.args[2].array.data, keys, sizeof(keys)) == 0, "array content");

	vd_wire_writer_init(&w, buf, 0xff000003u, 1);
	vd_wire_writer_put_u32(&w, 77);
	vd_wire_writer_put_u32(&w, 12);
	vd_wire_writer_put_array(&w, NULL, 0);
	vd_wire_writer_finish(&w);
	if (!parsed(enter, &msg)) {
		return false;
	}
	CHECK(msg.args[2].array.size == 0 && msg.header.size == 20, "empty array");
	return true;
}

static bool test_header_read_unaligned(void) {
	uint8_t raw[16] = { 0 };
	vd_wire_put_u32(raw + 1, 0, 0x01020304);
	vd_wire_put_u32(raw + 1, 4, 0x0018u << 16 | 0x0007);
	struct vd_wire_header header;
	vd_wire_header_read(raw + 1, &header);
	CHECK(header.object == 0x01020304 && header.opcode == 7 && header.size == 0x18,
		"%x %u %u", header.object, header.opcode, header.size);
	return true;
}

static bool test_size_too_small(void) {
	const struct vd_message *bind = &vd_iface_wl_registry.requests[0];
	for (uint32_t size = 0; size < 8; size++) {
		write_bind("wl_shm", 1, 5);
		set_size(size);
		if (!refused(bind, "size")) {
			return false;
		}
	}
	const struct vd_message *destroy = find_message("wl_buffer", "destroy", true);
	CHECK(destroy != NULL, "wl_buffer.destroy");
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 3, 0);
	vd_wire_writer_finish(&w);
	struct vd_wire_message msg;
	return parsed(destroy, &msg) && msg.arg_count == 0;
}

static bool test_size_not_multiple_of_4(void) {
	const struct vd_message *bind = &vd_iface_wl_registry.requests[0];
	uint32_t sizes[] = { 9, 10, 11, 29, 30, 31, 33 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		write_bind("wl_shm", 1, 5);
		set_size(sizes[i]);
		if (!refused(bind, "size")) {
			return false;
		}
	}
	return true;
}

static bool test_unterminated_string(void) {
	const struct vd_message *set_title = find_message("xdg_toplevel", "set_title", true);
	CHECK(set_title != NULL, "set_title");
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 10, 2);
	vd_wire_writer_put_array(&w, "abcd", 4);
	vd_wire_writer_finish(&w);
	return refused(set_title, "NUL-terminated");
}

static bool test_string_past_end(void) {
	const struct vd_message *set_title = find_message("xdg_toplevel", "set_title", true);
	CHECK(set_title != NULL, "set_title");
	uint32_t lengths[] = { 5, 8, 9, 100, 0x7fffffff, 0xfffffffc, 0xfffffffd, 0xffffffff };
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		struct vd_wire_writer w;
		vd_wire_writer_init(&w, buf, 10, 2);
		vd_wire_writer_put_u32(&w, lengths[i]);
		vd_wire_writer_put_u32(&w, 0x00636261); // "abc\0"
		vd_wire_writer_finish(&w);
		if (!refused(set_title, "past the end")) {
			printf("# string length %u\n", lengths[i]);
			return false;
		}
	}
	/* no room for the length word at all */
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 10, 2);
	vd_wire_writer_finish(&w);
	return refused(set_title, "past the end");
}

static bool test_null_string_not_nullable(void) {
	const struct vd_message *set_title = find_message("xdg_toplevel", "set_title", true);
	CHECK(set_title != NULL && !set_title->args[0].nullable, "set_title");
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 10, 2);
	vd_wire_writer_put_string(&w, NULL);
	vd_wire_writer_finish(&w);
	if (!refused(set_title, "null string")) {
		return false;
	}
	/* the untyped new_id's interface name is never nullable */
	write_bind(NULL, 1, 5);
	return refused(&vd_iface_wl_registry.requests[0], "null string");
}

static bool test_embedded_nul(void) {
	const struct vd_message *set_title = find_message("xdg_toplevel", "set_title", true);
	CHECK(set_title != NULL, "set_title");
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 10, 2);
	vd_wire_writer_put_array(&w, "ab\0c", 5); // "ab\0c\0"
	vd_wire_writer_finish(&w);
	if (!refused(set_title, "embedded NUL")) {
		return false;
	}
	vd_wire_writer_init(&w, buf, 10, 2);
	vd_wire_writer_put_array(&w, "\0\0", 2);
	vd_wire_writer_finish(&w);
	return refused(set_title, "embedded NUL");
}

static bool test_array_past_end(void) {
	const struct vd_message *enter = keyboard_enter();
	CHECK(enter != NULL, "wl_keyboard.enter");
	uint32_t lengths[] = { 5, 64, 0xfffffffd, 0xffffffff };
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		struct vd_wire_writer w;
		vd_wire_writer_init(&w, buf, 0xff000003u, 1);
		vd_wire_writer_put_u32(&w, 77);
		vd_wire_writer_put_u32(&w, 12);
		vd_wire_writer_put_u32(&w, lengths[i]);
		vd_wire_writer_put_u32(&w, 30);
		vd_wire_writer_finish(&w);
		if (!refused(enter, "array past the end")) {
			printf("# array length %u\n", lengths[i]);
			return false;
		}
	}
	return true;
}

static bool test_trailing_bytes(void) {
	const struct vd_message *bind = &vd_iface_wl_registry.requests[0];
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 2, 0);
	vd_wire_writer_put_u32(&w, 7);
	vd_wire_writer_put_string(&w, "wl_shm");
	vd_wire_writer_put_u32(&w, 1);
	vd_wire_writer_put_u32(&w, 5);
	vd_wire_writer_put_u32(&w, 0xdeadbeef);
	vd_wire_writer_finish(&w);
	if (!refused(bind, "4 bytes past the last argument")) {
		return false;
	}
	const struct vd_message *destroy = find_message("wl_buffer", "destroy", true);
	CHECK(destroy != NULL, "wl_buffer.destroy");
	vd_wire_writer_init(&w, buf, 3, 0);
	vd_wire_writer_put_u32(&w, 0);
	vd_wire_writer_put_u32(&w, 0);
	vd_wire_writer_finish(&w);
	return refused(destroy, "8 bytes past the last argument");
}

static bool test_too_short_for_arguments(void) {
	const struct vd_message *create_pool = &vd_iface_wl_shm.requests[0];
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 4, 0);
	vd_wire_writer_put_u32(&w, 9);
	vd_wire_writer_finish(&w);
	if (!refused(create_pool, "too short")) {
		return false;
	}
	/* bind with the interface name but no version and id */
	vd_wire_writer_init(&w, buf, 2, 0);
	vd_wire_writer_put_u32(&w, 7);
	vd_wire_writer_put_string(&w, "wl_shm");
	vd_wire_writer_finish(&w);
	if (!refused(&vd_iface_wl_registry.requests[0], "too short")) {
		return false;
	}
	/* ... and with the version but no id */
	vd_wire_writer_init(&w, buf, 2, 0);
	vd_wire_writer_put_u32(&w, 7);
	vd_wire_writer_put_string(&w, "wl_shm");
	vd_wire_writer_put_u32(&w, 1);
	vd_wire_writer_finish(&w);
	return refused(&vd_iface_wl_registry.requests[0], "too short");
}

static bool test_null_new_id(void) {
	const struct vd_message *create_pool = &vd_iface_wl_shm.requests[0];
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 4, 0);
	vd_wire_writer_put_u32(&w, 0);
	vd_wire_writer_put_u32(&w, 4096);
	vd_wire_writer_finish(&w);
	if (!refused(create_pool, "null new_id")) {
		return false;
	}
	write_bind("wl_shm", 1, 0);
	return refused(&vd_iface_wl_registry.requests[0], "null new_id");
}

static bool test_null_object_not_nullable(void) {
	const struct vd_message *get_subsurface =
		find_message("wl_subcompositor", "get_subsurface", true);
	CHECK(get_subsurface != NULL, "wl_subcompositor.get_subsurface");
	CHECK(!get_subsurface->args[1].nullable && !get_subsurface->args[2].nullable,
		"surface and parent are not nullable");
	uint32_t cases[][3] = { { 10, 0, 11 }, { 10, 11, 0 } };
	for (size_t i = 0; i < 2; i++) {
		struct vd_wire_writer w;
		vd_wire_writer_init(&w, buf, 6, 1);
		for (size_t j = 0; j < 3; j++) {
			vd_wire_writer_put_u32(&w, cases[i][j]);
		}
		vd_wire_writer_finish(&w);
		if (!refused(get_subsurface, "null object")) {
			return false;
		}
	}
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 6, 1);
	vd_wire_writer_put_u32(&w, 10);
	vd_wire_writer_put_u32(&w, 11);
	vd_wire_writer_put_u32(&w, 12);
	vd_wire_writer_finish(&w);
	struct vd_wire_message msg;
	return parsed(get_subsurface, &msg);
}

static bool test_writer_overflow(void) {
	char *big = malloc(VD_WIRE_MAX_MESSAGE_SIZE);
	CHECK(big != NULL, "malloc");
	memset(big, 'x', VD_WIRE_MAX_MESSAGE_SIZE - 1);
	big[VD_WIRE_MAX_MESSAGE_SIZE - 1] = '\0';
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 10, 2);
	vd_wire_writer_put_string(&w, big);
	bool overflow = !vd_wire_writer_finish(&w);
	/* the largest string that fits: 4096 - 8 header - 4 length */
	big[VD_WIRE_MAX_MESSAGE_SIZE - 12 - 1] = '\0';
	vd_wire_writer_init(&w, buf, 10, 2);
	vd_wire_writer_put_string(&w, big);
	bool fits = vd_wire_writer_finish(&w) && w.size == VD_WIRE_MAX_MESSAGE_SIZE;
	free(big);
	CHECK(overflow, "a string larger than a message fitted");
	CHECK(fits, "the largest string did not fit (size %u)", w.size);
	return true;
}

static bool test_interface_find_round_trip(void) {
	CHECK(vd_interface_count > 50, "only %zu interfaces", vd_interface_count);
	for (size_t i = 0; i < vd_interface_count; i++) {
		const struct vd_interface *iface = vd_interfaces[i];
		CHECK(vd_interface_find(iface->name) == iface, "%s not found", iface->name);
		if (i > 0) {
			const char *prev = vd_interfaces[i - 1]->name;
			CHECK(strcmp(prev, iface->name) < 0, "not sorted: %s before %s", prev,
				iface->name);
		}
		CHECK(iface->version >= 1, "%s version %u", iface->name, iface->version);
	}
	CHECK(vd_interface_find("") == NULL, "empty name found");
	CHECK(vd_interface_find("wl_nope") == NULL, "wl_nope found");
	CHECK(vd_interface_find("wl_shm_") == NULL, "wl_shm_ found");
	CHECK(vd_interface_find("zwlr_layer_shell_v1") == NULL, "layer shell is in the tables");
	CHECK(vd_interface_find("wl_shm") == &vd_iface_wl_shm, "wl_shm");
	return true;
}

/* Writes a minimal well-formed instance of desc into buf. */
static bool write_minimal(const struct vd_message *desc, uint16_t opcode) {
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, buf, 3, opcode);
	for (uint8_t a = 0; a < desc->arg_count; a++) {
		const struct vd_arg *arg = &desc->args[a];
		switch (arg->type) {
		case VD_ARG_FD:
			break;
		case VD_ARG_STRING:
			vd_wire_writer_put_string(&w, "s");
			break;
		case VD_ARG_ARRAY:
			vd_wire_writer_put_array(&w, NULL, 0);
			break;
		case VD_ARG_NEW_ID:
			if (arg->interface == NULL) {
				vd_wire_writer_put_string(&w, "wl_shm");
				vd_wire_writer_put_u32(&w, 1);
			}
			vd_wire_writer_put_u32(&w, 100);
			break;
		default:
			vd_wire_writer_put_u32(&w, 1);
			break;
		}
	}
	return vd_wire_writer_finish(&w);
}

static bool check_minimal(const struct vd_interface *iface, const struct vd_message *msgs,
		uint16_t count) {
	for (uint16_t op = 0; op < count; op++) {
		const struct vd_message *desc = &msgs[op];
		CHECK(write_minimal(desc, op), "%s.%s: writer overflow", iface->name, desc->name);
		struct vd_wire_message msg;
		char err[256];
		CHECK(vd_wire_parse(desc, buf, &msg, err, sizeof(err)), "%s.%s: %s", iface->name,
			desc->name, err);
		CHECK(msg.arg_count == desc->arg_count && msg.fd_count == desc->fd_count,
			"%s.%s: %u args %u fds", iface->name, desc->name, msg.arg_count,
			msg.fd_count);
	}
	return true;
}

/* Every message of every table accepts a minimal well-formed instance. */
static bool test_every_message_minimal(void) {
	size_t count = 0;
	for (size_t i = 0; i < vd_interface_count; i++) {
		const struct vd_interface *iface = vd_interfaces[i];
		if (!check_minimal(iface, iface->requests, iface->request_count) ||
				!check_minimal(iface, iface->events, iface->event_count)) {
			return false;
		}
		count += iface->request_count + iface->event_count;
	}
	CHECK(count > 200, "only %zu messages", count);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_registry_bind),
	TAP_CASE(test_shm_create_pool),
	TAP_CASE(test_negative_int),
	TAP_CASE(test_set_title),
	TAP_CASE(test_string_padding),
	TAP_CASE(test_nullable_string),
	TAP_CASE(test_array),
	TAP_CASE(test_header_read_unaligned),
	TAP_CASE(test_size_too_small),
	TAP_CASE(test_size_not_multiple_of_4),
	TAP_CASE(test_unterminated_string),
	TAP_CASE(test_string_past_end),
	TAP_CASE(test_null_string_not_nullable),
	TAP_CASE(test_embedded_nul),
	TAP_CASE(test_array_past_end),
	TAP_CASE(test_trailing_bytes),
	TAP_CASE(test_too_short_for_arguments),
	TAP_CASE(test_null_new_id),
	TAP_CASE(test_null_object_not_nullable),
	TAP_CASE(test_writer_overflow),
	TAP_CASE(test_interface_find_round_trip),
	TAP_CASE(test_every_message_minimal),
};

TAP_MAIN(cases)
