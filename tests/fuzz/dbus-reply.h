#ifndef TESTS_FUZZ_DBUS_REPLY_H
#define TESTS_FUZZ_DBUS_REPLY_H

#include <dbus/dbus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * For fuzz targets of D-Bus readers: data as the body of a method return of
 * the given signature (at most 200 characters), wrapped in a fixed
 * little-endian header and handed to libdbus's own demarshaller, which
 * refuses what is not valid D-Bus. NULL if it refused.
 */
static inline DBusMessage *fuzz_dbus_reply(const char *signature, const uint8_t *data,
		size_t size) {
	/* header: 'l', method return, no flags, version 1, body length, serial 1, then the
	 * fields REPLY_SERIAL (u 1) and SIGNATURE, padded to 8 */
	uint8_t header[256] = {'l', 2, 0, 1};
	size_t sig_len = strlen(signature);
	if (size > INT32_MAX / 2 || sig_len > 200) {
		return NULL;
	}
	uint32_t body_len = (uint32_t)size, serial = 1;
	memcpy(header + 4, &body_len, 4);
	memcpy(header + 8, &serial, 4);
	uint8_t fields[] = {5, 1, 'u', 0, 1, 0, 0, 0, 8, 1, 'g', 0, (uint8_t)sig_len};
	size_t pos = 16;
	memcpy(header + pos, fields, sizeof(fields));
	pos += sizeof(fields);
	memcpy(header + pos, signature, sig_len + 1);
	pos += sig_len + 1;
	uint32_t fields_len = (uint32_t)(pos - 16);
	memcpy(header + 12, &fields_len, 4);
	size_t header_len = (pos + 7) & ~(size_t)7;
	uint8_t *bytes = calloc(1, header_len + size + 1);
	if (bytes == NULL) {
		return NULL;
	}
	memcpy(bytes, header, pos);
	if (size > 0) {
		memcpy(bytes + header_len, data, size);
	}
	DBusError error;
	dbus_error_init(&error);
	DBusMessage *reply = dbus_message_demarshal((const char *)bytes, (int)(header_len + size),
		&error);
	dbus_error_free(&error);
	free(bytes);
	return reply;
}

#endif
