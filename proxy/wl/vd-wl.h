#ifndef PROXY_WL_VD_WL_H
#define PROXY_WL_VD_WL_H

/*
 * vd-wl: the Wayland machinery of vmdesk, as a static library that knows
 * nothing of frames, clipboards, policies, servers or the hostd link.
 * vmdesk-proxy is one user (proxy/session.h: a session joins a client
 * endpoint to a compositor endpoint and translates IDs between them);
 * vmdesk-guest-wayland is the other (a tracker per guest client, its
 * messages passed through to a link channel).
 *
 *   protocols/interface.h  the tables generated from the XML, with the
 *                          VD_<INTERFACE>_{REQUEST,EVENT}_<NAME> opcodes
 *                          and VD_<INTERFACE>_<ENUM>_<ENTRY> values
 *   protocols/wire.h       one message's shape: parse, build
 *   proxy/wl/parse.h       one message against the objects of its sender's
 *                          side: sender, opcode, version, fds, object
 *                          arguments, new IDs
 *   proxy/wl/object.h      objects, their addons, their lifetime
 *   proxy/wl/object-map.h  one side's ID space (client and server ranges)
 *   proxy/wl/connection.h  the buffers of a byte stream: bytes + fds in and
 *                          out, limits
 *   proxy/wl/endpoint.h    the transport under a connection: a Unix socket,
 *                          or anything that implements vd_endpoint_impl
 *                          (a VM link channel), with readiness and
 *                          backpressure
 *   proxy/wl/hooks.h       per-interface, per-opcode hooks; a registry per
 *                          user instance, nothing process-global
 *   proxy/wl/tracker.h     a connection followed without changing its IDs
 *
 * Ownership
 * - An endpoint belongs to the one owner that attached it (vd_endpoint_attach)
 *   and destroys it; the endpoint owns its buffers, the fds received and
 *   not yet taken, and the fds queued and not yet sent.
 * - A message's fds, once taken from the input (vd_connection_take_fd),
 *   are the taker's: it queues them on the other side (ownership passes
 *   with vd_connection_queue) or closes them.
 * - Objects belong to their owner's struct vd_objects (a session, a
 *   tracker); an object map only points at them. An object in two maps
 *   (the proxy's client and compositor IDs) is destroyed once, when its
 *   last ID is released. Addons belong to their users and are told by
 *   their destroy callback when the object goes.
 * - A hook registry belongs to the instance that built it and outlives the
 *   sessions or trackers that use it.
 *
 * Lifetimes, and the one rule for what is destroyed during dispatch
 * Deferred destruction, as libwayland's event loop does for its sources:
 * whatever is destroyed while a dispatch is running stops being reachable
 * at once (it leaves every map and list, its addons are destroyed) but its
 * memory is freed only when the dispatch that could still hold a pointer
 * to it returns.
 * - Objects: destroyed with vd_object_destroy; between
 *   vd_objects_dispatch_begin and _end (around each message: the proxy's
 *   dispatch, vd_tracker_request/event .. vd_tracker_done) they are marked
 *   VD_OBJECT_DEAD and freed by the outermost _end. A function that got an
 *   object in this dispatch may read it after any call; it checks its
 *   flags (VD_OBJECT_DEAD, _CLIENT_GONE, _UPSTREAM_GONE) before acting on it.
 * - The owner of an endpoint (a proxy session): closed, never destroyed,
 *   from inside its own callbacks or hooks (vd_session_client_error and the
 *   like set `closing`); the endpoint's ready callback, or the idle flush,
 *   destroys it as its last act. An endpoint's transport touches nothing
 *   of the endpoint after calling its ready callback.
 * - Pointers kept across dispatches (a surface's xdg_surface, a clipboard's
 *   source) are dropped in the destroy callback of the object they point
 *   at (the owner's impl->gone in the proxy, or an addon).
 */

#include "protocols/interface.h"
#include "protocols/wire.h"
#include "proxy/wl/connection.h"
#include "proxy/wl/endpoint.h"
#include "proxy/wl/hooks.h"
#include "proxy/wl/object-map.h"
#include "proxy/wl/object.h"
#include "proxy/wl/parse.h"
#include "proxy/wl/tracker.h"

#endif
