#define LOG_TAG "icons"

#include <cairo.h>
#include <librsvg/rsvg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/apps.h"
#include "guest/image.h"
#include "protocols/link.h"
#include "protocols/log.h"

#define MAX_ICON_FILE (8 * 1024 * 1024)

static bool is_file(const char *path) {
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= MAX_ICON_FILE;
}

static bool has_suffix(const char *s, const char *suffix) {
	size_t len = strlen(s), slen = strlen(suffix);
	return len >= slen && strcmp(s + len - slen, suffix) == 0;
}

char *vd_guest_icon_lookup(const char *name, int size, char **data_dirs, size_t ndirs) {
	if (name[0] == '/') {
		if ((has_suffix(name, ".png") || has_suffix(name, ".svg")) && is_file(name)) {
			return strdup(name);
		}
		return NULL;
	}
	if (strchr(name, '/') != NULL || strcmp(name, "..") == 0) {
		return NULL;
	}
	char base[256];
	snprintf(base, sizeof(base), "%s", name);
	if (has_suffix(base, ".png") || has_suffix(base, ".svg") || has_suffix(base, ".xpm")) {
		base[strlen(base) - 4] = '\0';
	}
	/* Sizes at or above the target first (smallest first), then scalable, then smaller. */
	static const int sizes[] = {16, 22, 24, 32, 48, 64, 96, 128, 192, 256, 512};
	const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
	char dirs[16][16];
	size_t ndir = 0;
	for (size_t i = 0; i < nsizes; i++) {
		if (sizes[i] >= size) {
			snprintf(dirs[ndir++], sizeof(dirs[0]), "%dx%d", sizes[i], sizes[i]);
		}
	}
	snprintf(dirs[ndir++], sizeof(dirs[0]), "scalable");
	for (size_t i = nsizes; i-- > 0;) {
		if (sizes[i] < size) {
			snprintf(dirs[ndir++], sizeof(dirs[0]), "%dx%d", sizes[i], sizes[i]);
		}
	}
	char path[4096];
	for (size_t d = 0; d < ndir; d++) {
		for (size_t i = 0; i < ndirs; i++) {
			const char *ext = strcmp(dirs[d], "scalable") == 0 ? "svg" : "png";
			snprintf(path, sizeof(path), "%s/icons/hicolor/%s/apps/%s.%s", data_dirs[i],
				dirs[d], base, ext);
			if (is_file(path)) {
				return strdup(path);
			}
		}
	}
	for (size_t i = 0; i < ndirs; i++) {
		static const char *const exts[] = {"png", "svg"};
		for (size_t e = 0; e < 2; e++) {
			snprintf(path, sizeof(path), "%s/pixmaps/%s.%s", data_dirs[i], base, exts[e]);
			if (is_file(path)) {
				return strdup(path);
			}
		}
	}
	return NULL;
}

static cairo_surface_t *render_svg(const char *path, int size) {
	GError *error = NULL;
	RsvgHandle *handle = rsvg_handle_new_from_file(path, &error);
	if (handle == NULL) {
		vd_log(VD_DEBUG, "%s: %s", path, error ? error->message : "cannot load");
		g_clear_error(&error);
		return NULL;
	}
	cairo_surface_t *dst = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
	cairo_t *cr = cairo_create(dst);
	RsvgRectangle viewport = {0, 0, size, size};
	bool ok = rsvg_handle_render_document(handle, cr, &viewport, &error);
	cairo_destroy(cr);
	g_object_unref(handle);
	if (!ok) {
		vd_log(VD_DEBUG, "%s: %s", path, error ? error->message : "cannot render");
		g_clear_error(&error);
		cairo_surface_destroy(dst);
		return NULL;
	}
	return dst;
}

bool vd_guest_icon_render(const char *path, int size, uint8_t **rgba, size_t *rgba_len,
		uint16_t *width, uint16_t *height) {
	if (size > (int)VD_LINK_MAX_ICON_SIZE) {
		size = VD_LINK_MAX_ICON_SIZE;
	}
	cairo_surface_t *img = NULL;
	if (has_suffix(path, ".svg")) {
		img = render_svg(path, size);
	} else {
		/* a small file may still announce a huge image: read its header first */
		if (!vd_guest_png_file_ok(path)) {
			return false;
		}
		cairo_surface_t *src = cairo_image_surface_create_from_png(path);
		if (cairo_surface_status(src) == CAIRO_STATUS_SUCCESS) {
			img = vd_guest_image_fit(src, size);
		}
		cairo_surface_destroy(src);
	}
	if (img == NULL) {
		return false;
	}
	struct vd_guest_image image = {0};
	bool ok = vd_guest_image_from_surface(img, &image);
	cairo_surface_destroy(img);
	*rgba = image.rgba;
	*rgba_len = image.len;
	*width = image.width;
	*height = image.height;
	return ok;
}
