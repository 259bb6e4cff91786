#ifndef PROXY_CLIPBOARD_H
#define PROXY_CLIPBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/session.h"

/*
 * The VM's own clipboard and primary selection. The proxy serves
 * wl_data_device_manager and zwp_primary_selection_device_manager_v1 for
 * its VM: a client's set_selection becomes the VM's selection and never
 * reaches the compositor; the compositor's selection never reaches the VM.
 * Clients of the VM see the VM's selection through offers the proxy makes
 * when one of them gets keyboard focus, as a compositor would; a receive on
 * such an offer is passed to the source's client, in whichever connection
 * of the VM it is. Data crosses the VM's boundary only through
 * vmdesk-hostd's global clipboard (clipboard_read/clipboard_set_data).
 */

enum vd_selection_type {
	VD_SELECTION_CLIPBOARD,
	VD_SELECTION_PRIMARY,
	VD_SELECTION_COUNT,
};

/* What the proxy accepts of a source's MIME types (names: vd_mime_valid). */
#define VD_CLIPBOARD_MAX_MIMES 64

struct vd_clipboard;
struct vd_server;

struct vd_clipboard *clipboard_create(struct vd_server *server);
void clipboard_destroy(struct vd_clipboard *clipboard);
/* A session ends: forget it. */
void clipboard_session_gone(struct vd_clipboard *clipboard, struct vd_session *session);

/* Keyboard focus of the VM's sessions, from proxy/focus.c: a session got
 * or lost focus (on any seat). */
void clipboard_focus_in(struct vd_session *session);
void clipboard_focus_out(struct vd_session *session);
/* An input serial of the client's own objects (proxy/frame.c: pointer
 * buttons); see focus_note_serial. */
void clipboard_note_serial(struct vd_session *session, uint32_t serial);
/* Whether the VM has keyboard focus (one of its windows). */
bool clipboard_has_focus(const struct vd_clipboard *clipboard);

/*
 * The global clipboard's side (vmdesk-hostd). Reads the VM's selection of
 * the given MIME type into memory, at most max_size bytes, within
 * timeout_ms; done is called once with the data (NULL and a reason on
 * failure). Returns false if there is nothing to read.
 */
typedef void (*vd_clipboard_read_done)(void *data, const uint8_t *bytes, size_t size,
	const char *mime, const char *error);
bool clipboard_read(struct vd_clipboard *clipboard, enum vd_selection_type type,
	const char *const *mimes, size_t mime_count, size_t max_size, int timeout_ms,
	vd_clipboard_read_done done, void *data);
/* The VM's MIME types of its current selection (NULL: none). */
const char *const *clipboard_mimes(struct vd_clipboard *clipboard, enum vd_selection_type type,
	size_t *count);
/* Sets the VM's selection to data the proxy serves itself (copied). */
bool clipboard_set_data(struct vd_clipboard *clipboard, enum vd_selection_type type,
	const char *const *mimes, size_t mime_count, const uint8_t *bytes, size_t size);

/* Request pre-hooks. */
bool clipboard_handle_manager_local(struct vd_hook_ctx *ctx);
bool clipboard_handle_source_offer(struct vd_hook_ctx *ctx);
bool clipboard_handle_set_selection(struct vd_hook_ctx *ctx);
bool clipboard_handle_start_drag(struct vd_hook_ctx *ctx);
bool clipboard_handle_receive(struct vd_hook_ctx *ctx);
/* Request post-hooks. */
bool clipboard_handle_create_source(struct vd_hook_ctx *ctx);
bool clipboard_handle_get_device(struct vd_hook_ctx *ctx);

#define CLIPBOARD_REQUEST_HOOKS \
	{ &vd_iface_wl_data_device_manager, \
		VD_WL_DATA_DEVICE_MANAGER_REQUEST_CREATE_DATA_SOURCE, \
		clipboard_handle_manager_local }, \
	{ &vd_iface_wl_data_device_manager, VD_WL_DATA_DEVICE_MANAGER_REQUEST_GET_DATA_DEVICE, \
		clipboard_handle_manager_local }, \
	{ &vd_iface_zwp_primary_selection_device_manager_v1, \
		VD_ZWP_PRIMARY_SELECTION_DEVICE_MANAGER_V1_REQUEST_CREATE_SOURCE, \
		clipboard_handle_manager_local }, \
	{ &vd_iface_zwp_primary_selection_device_manager_v1, \
		VD_ZWP_PRIMARY_SELECTION_DEVICE_MANAGER_V1_REQUEST_GET_DEVICE, \
		clipboard_handle_manager_local }, \
	{ &vd_iface_wl_data_source, VD_WL_DATA_SOURCE_REQUEST_OFFER, \
		clipboard_handle_source_offer }, \
	{ &vd_iface_zwp_primary_selection_source_v1, \
		VD_ZWP_PRIMARY_SELECTION_SOURCE_V1_REQUEST_OFFER, clipboard_handle_source_offer }, \
	{ &vd_iface_wl_data_device, VD_WL_DATA_DEVICE_REQUEST_START_DRAG, \
		clipboard_handle_start_drag }, \
	{ &vd_iface_wl_data_device, VD_WL_DATA_DEVICE_REQUEST_SET_SELECTION, \
		clipboard_handle_set_selection }, \
	{ &vd_iface_zwp_primary_selection_device_v1, \
		VD_ZWP_PRIMARY_SELECTION_DEVICE_V1_REQUEST_SET_SELECTION, \
		clipboard_handle_set_selection }, \
	{ &vd_iface_wl_data_offer, VD_WL_DATA_OFFER_REQUEST_RECEIVE, clipboard_handle_receive }, \
	{ &vd_iface_zwp_primary_selection_offer_v1, \
		VD_ZWP_PRIMARY_SELECTION_OFFER_V1_REQUEST_RECEIVE, clipboard_handle_receive },

#define CLIPBOARD_REQUEST_POST_HOOKS \
	{ &vd_iface_wl_data_device_manager, \
		VD_WL_DATA_DEVICE_MANAGER_REQUEST_CREATE_DATA_SOURCE, \
		clipboard_handle_create_source }, \
	{ &vd_iface_wl_data_device_manager, VD_WL_DATA_DEVICE_MANAGER_REQUEST_GET_DATA_DEVICE, \
		clipboard_handle_get_device }, \
	{ &vd_iface_zwp_primary_selection_device_manager_v1, \
		VD_ZWP_PRIMARY_SELECTION_DEVICE_MANAGER_V1_REQUEST_CREATE_SOURCE, \
		clipboard_handle_create_source }, \
	{ &vd_iface_zwp_primary_selection_device_manager_v1, \
		VD_ZWP_PRIMARY_SELECTION_DEVICE_MANAGER_V1_REQUEST_GET_DEVICE, \
		clipboard_handle_get_device },

/* None: the clients' own keyboards say nothing about focus the proxy
 * trusts; it follows its own keyboards (proxy/focus.h). */
#define CLIPBOARD_EVENT_HOOKS

#endif
