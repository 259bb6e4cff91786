#ifndef DECORATION_TITLE_H
#define DECORATION_TITLE_H

#include <stdbool.h>
#include <stddef.h>

#include "decoration/color.h"

/*
 * Window titles and app_ids from a VM, made safe to show on the host.
 *
 * Everything a VM sends is untrusted; these functions turn it into text that
 * cannot hide, reorder or fake anything around it. All of them return a
 * freshly malloc'd, NUL-terminated, valid UTF-8 string, or NULL only when
 * memory runs out.
 */

/* Bytes of VM-supplied title kept in "[vm] title" (the ellipsis included). */
#define VD_TITLE_MAX_BYTES 256
/* Bytes of VM name kept in "[vm] title" and in app_ids. */
#define VD_TITLE_VM_MAX_BYTES 64
/* Bytes of VM-supplied app_id kept in "vmdesk.VM.app_id". */
#define VD_APP_ID_MAX_BYTES 128
/* Consecutive non-spacing/enclosing combining marks kept on one base
 * character ("Zalgo" text piles hundreds of them). */
#define VD_TITLE_MAX_MARKS 8

/*
 * Sanitizes a title. The rules, in order:
 * - Decoding is strict UTF-8 (RFC 3629): every maximal run of bytes that is
 *   not valid UTF-8 (stray continuation bytes, truncated sequences, overlong
 *   forms, UTF-16 surrogates, code points above U+10FFFF, bytes C0, C1,
 *   F5-FF) becomes ONE U+FFFD. Replacing instead of dropping means that
 *   invalid bytes can never glue two halves into a new word ("ho\xffst"
 *   reads "ho\ufffdst", not "host").
 * - Whitespace (Unicode White_Space: tab, LF, VT, FF, CR, space, U+0085,
 *   U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)
 *   is collapsed: each run becomes one U+0020; leading and trailing
 *   whitespace is removed.
 * - Removed: the other C0 controls, DEL and C1 controls; the bidi controls
 *   (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069); the other
 *   default-ignorable and invisible format characters (U+00AD, U+034F,
 *   U+115F, U+1160, U+17B4, U+17B5, U+180E, U+200B-U+200D, U+2060-U+2065,
 *   U+206A-U+206F, U+3164, U+FEFF, U+FFA0, U+FFF0-U+FFFB, U+1BCA0-U+1BCA3,
 *   U+1D173-U+1D17A, tag characters U+E0000-U+E007F and the rest of
 *   U+E0000-U+E0FFF except the variation selectors); noncharacters
 *   (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF).
 * - Variation selectors (U+180B-U+180D, U+180F, U+FE00-U+FE0F,
 *   U+E0100-U+E01EF) and combining marks are kept only right after a kept
 *   character that is not a space (a standalone one is removed: it would
 *   attach to whatever the title is displayed next to), and at most
 *   VD_TITLE_MAX_MARKS non-spacing marks in a row.
 * - The result is at most max_bytes bytes. When the title had to be cut, it
 *   is cut on a character boundary and ends with U+2026 "..." (if max_bytes
 *   leaves room for it; the ellipsis counts toward max_bytes).
 * NULL or an empty result gives "". Never NULL unless out of memory.
 */
char *vd_title_sanitize(const char *title, size_t max_bytes);

/* Characters of one line of a text block; longer lines are wrapped (Qubes). */
#define VD_TEXT_LINE_MAX_CHARS 1000
/* Lines of a notification body (Qubes: more make some servers spin). */
#define VD_TEXT_MAX_LINES 500

/*
 * Sanitizes text of several lines (a notification body, a tooltip): each
 * line as a title (vd_title_sanitize's rules: whitespace collapsed, controls,
 * bidi and invisible characters removed, invalid UTF-8 as U+FFFD), lines
 * broken at LF, CR LF and CR and wrapped after VD_TEXT_LINE_MAX_CHARS
 * characters, at most max_lines lines and max_bytes bytes (then cut on a
 * character boundary, ending in U+2026), no newline at either end. The
 * result holds no control character but '\n'. Never NULL unless out of memory.
 */
char *vd_text_block_sanitize(const char *text, size_t max_lines, size_t max_bytes);

/* text with & < > " ' as entities: safe inside markup, shown as written. */
char *vd_text_markup_escape(const char *text);

/*
 * "[vm] title" with the title sanitized and capped at VD_TITLE_MAX_BYTES,
 * or "[vm]" when nothing of the title is left. The real prefix is always
 * first: a title "[host] x" comes out "[vm] [host] x". The VM name is
 * trusted but sanitized too (capped at VD_TITLE_VM_MAX_BYTES).
 */
char *vd_title_format(const char *vm, const char *title);

/*
 * "vmdesk.VM.APP_ID", or "vmdesk.VM" when the app_id is NULL or empty. APP_ID
 * keeps [A-Za-z0-9._-] and turns any other character (a whole UTF-8
 * sequence, or an invalid byte) into '_'; it is capped at
 * VD_APP_ID_MAX_BYTES. VM keeps [A-Za-z0-9_-] only ('.' becomes '_' too), so
 * the component after "vmdesk." always names the VM: a VM "work" with app_id
 * "x.foo" can never read like a VM "work.x".
 */
char *vd_app_id_format(const char *vm, const char *app_id);

/*
 * Whether a VM name is one the frames can show: the project's one VM name
 * rule (vd_vm_name_valid, protocols/names.h). Its letter first also makes
 * "[vm] ..." start with a strong left-to-right character, so no
 * right-to-left title can move the prefix to the other end of a title bar.
 */
bool vd_title_vm_name_valid(const char *vm);

/* Black or white, whichever has the higher WCAG contrast ratio on the
 * background (black on a tie). */
struct vd_color vd_color_text_for(struct vd_color background);

#endif
