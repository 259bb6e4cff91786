#ifndef DECORATION_GLIB_LOG_H
#define DECORATION_GLIB_LOG_H

/*
 * Routes the messages of GLib and the libraries on it (pango, fontconfig's
 * users, librsvg) to vd_log, tagged "glib", escaped, at the matching level.
 * Call once, early in main, in every program that links them. Without it,
 * GLib's own writer checks whether stderr is the journal (getpeername) at
 * the first message, a call the seccomp filters rightly leave out: a font
 * that fails to load after startup would kill the daemon.
 */
void vd_glib_log_init(void);

#endif
