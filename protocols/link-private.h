#ifndef PROTOCOLS_LINK_PRIVATE_H
#define PROTOCOLS_LINK_PRIVATE_H

/* What link.c (the codec) and link-reader.c (the capped reader) share. */

#include <stddef.h>

#include "protocols/link.h"

/* Reading chunk: a frame of max_payload fits in a few of them. */
#define LINK_READ_CHUNK (64u * 1024u)

/* Writes the message to err (if there is one). */
void link_set_err(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
