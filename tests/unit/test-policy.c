#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/interface.h"
#include "proxy/policy.h"
#include "tests/unit/tap.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024 * 1024)

static uint32_t table_version(const char *name) {
	const struct vd_interface *iface = vd_interface_find(name);
	return iface != NULL ? iface->version : 0;
}

static struct vd_policy *parse(const char *text, char *err, size_t err_size) {
	return vd_policy_parse(text, strlen(text), "test.policy", err, err_size);
}

/* Parses text, which must fail with exactly the message want. */
static bool fails_with(const char *text, const char *want) {
	char err[512] = "";
	struct vd_policy *policy = parse(text, err, sizeof(err));
	CHECK(policy == NULL, "accepted:\n%s", text);
	CHECK(strcmp(err, want) == 0, "got error \"%s\", want \"%s\"", err, want);
	return true;
}

/* Parses text, which must succeed; the caller destroys the result. */
static struct vd_policy *parse_ok(const char *text) {
	char err[512] = "";
	struct vd_policy *policy = parse(text, err, sizeof(err));
	if (policy == NULL) {
		printf("# refused: %s\n", err);
	}
	return policy;
}

static const char *const default_allowed[] = {
	"wl_compositor", "wl_subcompositor", "wl_shm", "wl_seat", "wl_output",
	"wl_data_device_manager", "xdg_wm_base", "zxdg_decoration_manager_v1",
	"org_kde_kwin_server_decoration_manager", "wp_viewporter",
	"wp_presentation", "zxdg_output_manager_v1", "zwp_relative_pointer_manager_v1",
	"zwp_pointer_constraints_v1", "zwp_pointer_gestures_v1",
	"zwp_primary_selection_device_manager_v1", "zwp_text_input_manager_v3",
	"zwp_idle_inhibit_manager_v1", "xdg_activation_v1", "zwp_linux_dmabuf_v1",
	"wp_fractional_scale_manager_v1", "wp_single_pixel_buffer_manager_v1",
	"wp_content_type_manager_v1",
};

static const char *const default_hidden[] = {
	"zwlr_layer_shell_v1", "zwlr_screencopy_manager_v1", "zwlr_export_dmabuf_manager_v1",
	"zwlr_data_control_manager_v1", "ext_data_control_manager_v1",
	"zwp_virtual_keyboard_manager_v1", "zwlr_virtual_pointer_manager_v1",
	"zwp_input_method_manager_v2", "zwlr_foreign_toplevel_manager_v1",
	"ext_foreign_toplevel_list_v1", "zwlr_output_manager_v1", "zwlr_output_power_manager_v1",
	"zwlr_gamma_control_manager_v1", "zwlr_input_inhibit_manager_v1",
	"ext_session_lock_manager_v1", "wp_security_context_manager_v1",
	"zwp_keyboard_shortcuts_inhibit_manager_v1", "zxdg_exporter_v1", "zxdg_exporter_v2",
	"zxdg_importer_v1", "zxdg_importer_v2", "org_kde_kwin_idle", "wp_drm_lease_device_v1",
	"zwp_tablet_manager_v2", "ext_idle_notifier_v1", "zwp_input_timestamps_manager_v1",
	"wl_shell", "wl_display", "wl_registry", "wl_surface", "xdg_toplevel",
};

static bool test_default_policy(void) {
	const char *path = getenv("VMDESK_DEFAULT_POLICY");
	CHECK(path != NULL, "VMDESK_DEFAULT_POLICY is not set");
	char err[512] = "";
	struct vd_policy *policy = vd_policy_load_file(path, err, sizeof(err));
	CHECK(policy != NULL, "%s", err);
	bool ok = policy->global_count == ARRAY_LEN(default_allowed);
	if (!ok) {
		printf("# %zu globals allowed, want %zu\n", policy->global_count,
			ARRAY_LEN(default_allowed));
	}
	for (size_t i = 0; ok && i < ARRAY_LEN(default_allowed); i++) {
		uint32_t got = vd_policy_max_version(policy, default_allowed[i]);
		uint32_t want = table_version(default_allowed[i]);
		if (want == 0 || got != want) {
			printf("# %s: max version %u, tables %u\n", default_allowed[i], got, want);
			ok = false;
		}
	}
	for (size_t i = 0; ok && i < ARRAY_LEN(default_hidden); i++) {
		if (vd_policy_max_version(policy, default_hidden[i]) != 0) {
			printf("# %s is allowed\n", default_hidden[i]);
			ok = false;
		}
	}
	if (ok && policy->allow_fullscreen) {
		printf("# fullscreen is allowed\n");
		ok = false;
	}
	vd_policy_destroy(policy);
	return ok;
}

/* Every directive line of the default policy carries a reason. */
static bool test_default_policy_reasons(void) {
	const char *path = getenv("VMDESK_DEFAULT_POLICY");
	CHECK(path != NULL, "VMDESK_DEFAULT_POLICY is not set");
	FILE *f = fopen(path, "re");
	CHECK(f != NULL, "cannot open %s: %s", path, strerror(errno));
	char line[4096];
	int number = 0, directives = 0;
	bool ok = true;
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		number++;
		size_t start = strspn(line, " \t");
		if (line[start] == '#' || line[start] == '\n' || line[start] == '\0') {
			continue;
		}
		directives++;
		const char *hash = strchr(line, '#');
		if (hash == NULL || strspn(hash + 1, " \t\n") == strlen(hash + 1)) {
			printf("# %s:%d: no reason given\n", path, number);
			ok = false;
		}
	}
	fclose(f);
	CHECK(ok, "a directive without a reason");
	CHECK(directives > 40, "only %d directives", directives);
	return true;
}

static bool test_allow_default_version(void) {
	struct vd_policy *policy = parse_ok("allow wl_seat\nallow wl_compositor\n");
	CHECK(policy != NULL, "refused");
	uint32_t seat = vd_policy_max_version(policy, "wl_seat");
	uint32_t compositor = vd_policy_max_version(policy, "wl_compositor");
	size_t count = policy->global_count;
	vd_policy_destroy(policy);
	CHECK(count == 2, "%zu globals", count);
	CHECK(seat == table_version("wl_seat") && seat > 1, "wl_seat %u", seat);
	CHECK(compositor == table_version("wl_compositor"), "wl_compositor %u", compositor);
	return true;
}

static bool test_allow_version(void) {
	struct vd_policy *policy = parse_ok("allow wl_seat 1\nallow wl_compositor 3\n"
		"allow wl_output 4000000000000000000000\nallow xdg_wm_base 000002\n");
	CHECK(policy != NULL, "refused");
	uint32_t seat = vd_policy_max_version(policy, "wl_seat");
	uint32_t compositor = vd_policy_max_version(policy, "wl_compositor");
	uint32_t output = vd_policy_max_version(policy, "wl_output");
	uint32_t wm_base = vd_policy_max_version(policy, "xdg_wm_base");
	vd_policy_destroy(policy);
	CHECK(seat == 1, "wl_seat %u", seat);
	CHECK(compositor == 3, "wl_compositor %u", compositor);
	CHECK(output == table_version("wl_output"), "wl_output %u (clamped)", output);
	CHECK(wm_base == 2, "xdg_wm_base %u", wm_base);
	return true;
}

static bool test_version_clamps_to_tables(void) {
	char text[128];
	uint32_t tables = table_version("wl_seat");
	snprintf(text, sizeof(text), "allow wl_seat %u\n", tables + 1);
	struct vd_policy *policy = parse_ok(text);
	CHECK(policy != NULL, "refused");
	uint32_t got = vd_policy_max_version(policy, "wl_seat");
	vd_policy_destroy(policy);
	CHECK(got == tables, "wl_seat %u, tables %u", got, tables);
	return true;
}

static bool test_deny(void) {
	struct vd_policy *policy = parse_ok("deny zwlr_layer_shell_v1\ndeny wl_shell\n"
		"deny Some_Future_Protocol_v9\nallow wl_shm\n");
	CHECK(policy != NULL, "refused");
	size_t count = policy->global_count;
	uint32_t layer = vd_policy_max_version(policy, "zwlr_layer_shell_v1");
	uint32_t shell = vd_policy_max_version(policy, "wl_shell");
	uint32_t shm = vd_policy_max_version(policy, "wl_shm");
	vd_policy_destroy(policy);
	CHECK(count == 1, "%zu globals", count);
	CHECK(layer == 0 && shell == 0, "a denied interface is allowed");
	CHECK(shm == 1, "wl_shm %u", shm);
	return true;
}

static bool test_deny_name_length(void) {
	char text[300];
	strcpy(text, "deny ");
	memset(text + 5, 'a', 128);
	strcpy(text + 5 + 128, "\n");
	struct vd_policy *policy = parse_ok(text);
	CHECK(policy != NULL, "a 128-character name is refused");
	vd_policy_destroy(policy);
	memset(text + 5, 'a', 129);
	strcpy(text + 5 + 129, "\n");
	return fails_with(text, "test.policy:1: interface name '"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"...' is longer than 128 characters");
}

static bool test_set_fullscreen(void) {
	struct vd_policy *policy = parse_ok("set fullscreen allow\n");
	CHECK(policy != NULL, "refused");
	bool allow = policy->allow_fullscreen;
	vd_policy_destroy(policy);
	CHECK(allow, "set fullscreen allow did not allow");
	policy = parse_ok("set fullscreen deny\n");
	CHECK(policy != NULL, "refused");
	allow = policy->allow_fullscreen;
	vd_policy_destroy(policy);
	CHECK(!allow, "set fullscreen deny allowed");
	policy = parse_ok("allow wl_shm\n");
	CHECK(policy != NULL, "refused");
	allow = policy->allow_fullscreen;
	vd_policy_destroy(policy);
	CHECK(!allow, "fullscreen is allowed by default");
	return true;
}

static bool test_comments_and_blanks(void) {
	struct vd_policy *policy = parse_ok(
		"# a comment\n"
		"\n"
		"   \t  \n"
		"\t# indented comment\n"
		"allow wl_shm # trailing comment\n"
		"allow\twl_seat\t2\t#tabs\n"
		"  deny   wl_shell   #\n"
		"allow wl_output#no space before the comment\n"
		"set fullscreen allow# comment\n"
		"#allow wl_compositor\n");
	CHECK(policy != NULL, "refused");
	size_t count = policy->global_count;
	uint32_t shm = vd_policy_max_version(policy, "wl_shm");
	uint32_t seat = vd_policy_max_version(policy, "wl_seat");
	uint32_t output = vd_policy_max_version(policy, "wl_output");
	uint32_t compositor = vd_policy_max_version(policy, "wl_compositor");
	bool fullscreen = policy->allow_fullscreen;
	vd_policy_destroy(policy);
	CHECK(count == 3, "%zu globals", count);
	CHECK(shm == 1 && seat == 2 && output == table_version("wl_output"),
		"versions %u %u %u", shm, seat, output);
	CHECK(compositor == 0, "commented-out allow took effect");
	CHECK(fullscreen, "set with a trailing comment ignored");
	return true;
}

static bool test_crlf(void) {
	struct vd_policy *policy = parse_ok("# crlf\r\nallow wl_shm\r\nallow wl_seat 3\r\n\r\n"
		"set fullscreen allow\r\n");
	CHECK(policy != NULL, "refused");
	uint32_t shm = vd_policy_max_version(policy, "wl_shm");
	uint32_t seat = vd_policy_max_version(policy, "wl_seat");
	bool fullscreen = policy->allow_fullscreen;
	vd_policy_destroy(policy);
	CHECK(shm == 1 && seat == 3 && fullscreen, "wl_shm %u wl_seat %u", shm, seat);
	return fails_with("allow wl_shm\r\nalow wl_seat\r\n",
		"test.policy:2: unknown directive 'alow'");
}

static bool test_no_trailing_newline(void) {
	struct vd_policy *policy = parse_ok("allow wl_shm\nallow wl_seat 2");
	CHECK(policy != NULL, "refused");
	uint32_t seat = vd_policy_max_version(policy, "wl_seat");
	vd_policy_destroy(policy);
	CHECK(seat == 2, "last line without a newline: wl_seat %u", seat);
	return fails_with("allow wl_shm\nallow wl_seat x", "test.policy:2: expected a version "
		"number after wl_seat, got 'x'");
}

static bool test_empty_policy(void) {
	char err[64];
	struct vd_policy *policy = vd_policy_parse("", 0, "empty", err, sizeof(err));
	CHECK(policy != NULL, "empty text refused: %s", err);
	size_t count = policy->global_count;
	uint32_t shm = vd_policy_max_version(policy, "wl_shm");
	vd_policy_destroy(policy);
	CHECK(count == 0 && shm == 0, "an empty policy allows something");
	return true;
}

/* The length argument is the text's end, not a NUL. */
static bool test_length_not_nul(void) {
	const char *text = "allow wl_shm\nallow wl_seat\n";
	char err[64];
	struct vd_policy *policy = vd_policy_parse(text, strlen("allow wl_shm\n"), "t", err,
		sizeof(err));
	CHECK(policy != NULL, "refused: %s", err);
	uint32_t seat = vd_policy_max_version(policy, "wl_seat");
	vd_policy_destroy(policy);
	CHECK(seat == 0, "read past the length");
	return true;
}

static const struct {
	const char *text;
	const char *error;
} error_cases[] = {
	{ "allow wl_shm\n\nalow wl_seat\n", "test.policy:3: unknown directive 'alow'" },
	{ "ALLOW wl_shm\n", "test.policy:1: unknown directive 'ALLOW'" },
	{ "allow wl_shm\nallow wl_shm 1\n", "test.policy:2: duplicate allow for wl_shm" },
	{ "deny wl_shell\ndeny wl_shell\n", "test.policy:2: duplicate deny for wl_shell" },
	{ "allow wl_shm\ndeny wl_shm\n", "test.policy:2: wl_shm is both allowed and denied" },
	{ "deny wl_shm\nallow wl_shm\n", "test.policy:2: wl_shm is both allowed and denied" },
	{ "allow wl_shm x\n",
		"test.policy:1: expected a version number after wl_shm, got 'x'" },
	{ "allow wl_shm -1\n",
		"test.policy:1: expected a version number after wl_shm, got '-1'" },
	{ "allow wl_shm 1.0\n",
		"test.policy:1: expected a version number after wl_shm, got '1.0'" },
	{ "allow wl_shm 0\n", "test.policy:1: version 0 for wl_shm: versions start at 1" },
	{ "allow wl_shm 00\n", "test.policy:1: version 0 for wl_shm: versions start at 1" },
	{ "allow wl_shm 1 2\n", "test.policy:1: unexpected '2' after allow wl_shm VERSION" },
	{ "allow zwlr_layer_shell_v1\n", "test.policy:1: zwlr_layer_shell_v1 is unknown to "
		"this proxy (not in its protocol tables)" },
	{ "allow WL_SHM\n",
		"test.policy:1: WL_SHM is unknown to this proxy (not in its protocol tables)" },
	{ "allow\n", "test.policy:1: allow needs an interface name" },
	{ "allow # wl_shm\n", "test.policy:1: allow needs an interface name" },
	{ "deny\n", "test.policy:1: deny needs an interface name" },
	{ "deny wl_shell now\n", "test.policy:1: unexpected 'now' after deny wl_shell" },
	{ "deny foo-bar\n",
		"test.policy:1: 'foo-bar' is not an interface name (letters, digits and _)" },
	{ "allow wl.shm\n",
		"test.policy:1: 'wl.shm' is not an interface name (letters, digits and _)" },
	{ "set\n",
		"test.policy:1: set needs a setting and a value, e.g. 'set fullscreen deny'" },
	{ "set fullscreen\n", "test.policy:1: expected allow or deny after set fullscreen" },
	{ "set fullscreen maybe\n",
		"test.policy:1: expected allow or deny after set fullscreen, got 'maybe'" },
	{ "set fullscreen allow please\n",
		"test.policy:1: unexpected 'please' after set fullscreen allow" },
	{ "set maximize allow\n", "test.policy:1: unknown setting 'maximize'" },
	{ "set fullscreen deny\nset fullscreen allow\n",
		"test.policy:2: fullscreen is set twice" },
};

static bool test_errors(void) {
	for (size_t i = 0; i < ARRAY_LEN(error_cases); i++) {
		if (!fails_with(error_cases[i].text, error_cases[i].error)) {
			return false;
		}
	}
	return true;
}

static bool test_first_error_wins(void) {
	return fails_with("allow wl_shm\nbogus\nalso bogus\n",
		"test.policy:2: unknown directive 'bogus'");
}

static bool test_error_quotes_control_chars(void) {
	return fails_with("alow\x01\n", "test.policy:1: unknown directive 'alow\\x01'") &&
		fails_with("deny w\xc3\xa9\n", "test.policy:1: 'w\\xc3\\xa9' is not an interface "
			"name (letters, digits and _)") &&
		fails_with("allow\vwl_shm\n",
			"test.policy:1: unknown directive 'allow\\x0bwl_shm'");
}

static bool test_nul_byte(void) {
	const char text[] = "allow wl_shm\nallow wl_seat\0\n";
	char err[128];
	struct vd_policy *policy = vd_policy_parse(text, sizeof(text) - 1, "nul", err, sizeof(err));
	CHECK(policy == NULL, "a NUL byte was accepted");
	CHECK_STR(err, "nul:2: NUL byte in the policy");
	return true;
}

static bool test_source_name(void) {
	char err[128];
	struct vd_policy *policy = vd_policy_parse("x\n", 2, NULL, err, sizeof(err));
	CHECK(policy == NULL, "accepted");
	CHECK_STR(err, "policy:1: unknown directive 'x'");
	return true;
}

static bool test_line_length_cap(void) {
	/* 4096 bytes is the limit, comments count */
	char *text = malloc(8192);
	CHECK(text != NULL, "malloc");
	strcpy(text, "allow wl_shm #");
	size_t len = strlen(text);
	memset(text + len, 'x', 4096 - len);
	strcpy(text + 4096, "\nallow wl_seat\n");
	struct vd_policy *policy = parse_ok(text);
	bool ok = policy != NULL && vd_policy_max_version(policy, "wl_seat") != 0;
	vd_policy_destroy(policy);
	if (!ok) {
		free(text);
		CHECK(false, "a 4096-byte line is refused");
	}
	memset(text + len, 'x', 4097 - len);
	strcpy(text + 4097, "\nallow wl_seat\n");
	ok = fails_with(text, "test.policy:1: line longer than 4096 bytes");
	free(text);
	return ok;
}

static bool test_entry_cap(void) {
	/* 1024 directives are fine, the 1025th is refused */
	size_t size = 1025 * 16 + 1;
	char *text = malloc(size);
	CHECK(text != NULL, "malloc");
	size_t len = 0;
	for (int i = 0; i < 1024; i++) {
		len += (size_t)snprintf(text + len, size - len, "deny x%d\n", i);
	}
	struct vd_policy *policy = parse_ok(text);
	bool ok = policy != NULL;
	vd_policy_destroy(policy);
	snprintf(text + len, size - len, "allow wl_shm\n");
	ok = ok && fails_with(text, "test.policy:1025: more than 1024 entries");
	free(text);
	CHECK(ok, "the entry cap is wrong");
	return true;
}

static bool test_size_cap(void) {
	/* 1 MiB of blank lines and comments is fine, one byte more is not */
	char *text = malloc(MIB + 2);
	CHECK(text != NULL, "malloc");
	memset(text, '\n', MIB + 1);
	memcpy(text, "allow wl_shm\n", 13);
	text[MIB + 1] = '\0';
	char err[128] = "";
	struct vd_policy *policy = vd_policy_parse(text, MIB, "big", err, sizeof(err));
	bool ok = policy != NULL && vd_policy_max_version(policy, "wl_shm") == 1;
	vd_policy_destroy(policy);
	if (ok) {
		policy = vd_policy_parse(text, MIB + 1, "big", err, sizeof(err));
		ok = policy == NULL && strcmp(err, "big: larger than 1048576 bytes") == 0;
		vd_policy_destroy(policy);
	}
	free(text);
	CHECK(ok, "size cap: %s", err);
	return true;
}

static bool test_small_error_buffer(void) {
	char err[10];
	memset(err, 'x', sizeof(err));
	struct vd_policy *policy = vd_policy_parse("alow\n", 5, "test.policy", err, sizeof(err));
	CHECK(policy == NULL, "accepted");
	CHECK_STR(err, "test.poli");
	policy = vd_policy_parse("alow\n", 5, "test.policy", NULL, 0);
	CHECK(policy == NULL, "accepted without an error buffer");
	return true;
}

static bool test_max_version_edge_cases(void) {
	CHECK(vd_policy_max_version(NULL, "wl_shm") == 0, "NULL policy");
	struct vd_policy *policy = parse_ok("allow wl_shm\n");
	CHECK(policy != NULL, "refused");
	bool ok = vd_policy_max_version(policy, NULL) == 0 &&
		vd_policy_max_version(policy, "") == 0 &&
		vd_policy_max_version(policy, "wl_sh") == 0 &&
		vd_policy_max_version(policy, "wl_shm_pool") == 0;
	vd_policy_destroy(policy);
	vd_policy_destroy(NULL);
	CHECK(ok, "a lookup of something not allowed returned a version");
	return true;
}

static int count_open_fds(void) {
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL) {
		return -1;
	}
	int count = 0;
	while (readdir(dir) != NULL) {
		count++;
	}
	closedir(dir);
	return count;
}

static bool write_file(const char *path, const char *data, size_t len) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return false;
	}
	bool ok = write(fd, data, len) == (ssize_t)len;
	return close(fd) == 0 && ok;
}

static bool test_load_file(void) {
	char dir[] = "/tmp/vd-test-policy-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/vm.policy", dir);
	int fds_before = count_open_fds();

	bool ok = write_file(path, "allow wl_shm\nallow wl_seat 2\n", 29);
	struct vd_policy *policy = ok ? vd_policy_load_file(path, err, sizeof(err)) : NULL;
	ok = policy != NULL && vd_policy_max_version(policy, "wl_seat") == 2;
	vd_policy_destroy(policy);

	char want[256];
	if (ok) {
		ok = write_file(path, "allow wl_shm\nalow wl_seat 2\n", 28) &&
			vd_policy_load_file(path, err, sizeof(err)) == NULL;
		snprintf(want, sizeof(want), "%s:2: unknown directive 'alow'", path);
		ok = ok && strcmp(err, want) == 0;
	}
	if (ok) {
		ok = vd_policy_load_file(dir, err, sizeof(err)) == NULL;
		snprintf(want, sizeof(want), "%s is not a regular file", dir);
		ok = ok && strcmp(err, want) == 0;
	}
	int fds_after = count_open_fds();
	unlink(path);
	if (ok) {
		ok = vd_policy_load_file(path, err, sizeof(err)) == NULL;
		snprintf(want, sizeof(want), "cannot open %s: No such file or directory", path);
		ok = ok && strcmp(err, want) == 0;
	}
	rmdir(dir);
	CHECK(ok, "got \"%s\"", err);
	CHECK(fds_before == fds_after, "leaked fds: %d before, %d after", fds_before, fds_after);
	return true;
}

static bool test_load_file_too_big(void) {
	char dir[] = "/tmp/vd-test-policy-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	char path[128], err[512] = "", want[256];
	snprintf(path, sizeof(path), "%s/big.policy", dir);
	char *text = malloc(MIB + 1);
	bool ok = text != NULL;
	if (ok) {
		memset(text, '\n', MIB + 1);
		ok = write_file(path, text, MIB + 1) &&
			vd_policy_load_file(path, err, sizeof(err)) == NULL;
		snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
		ok = ok && strcmp(err, want) == 0;
	}
	if (ok) {
		ok = write_file(path, text, MIB);
		struct vd_policy *policy = vd_policy_load_file(path, err, sizeof(err));
		ok = ok && policy != NULL;
		vd_policy_destroy(policy);
	}
	free(text);
	unlink(path);
	rmdir(dir);
	CHECK(ok, "got \"%s\"", err);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_default_policy),
	TAP_CASE(test_default_policy_reasons),
	TAP_CASE(test_allow_default_version),
	TAP_CASE(test_allow_version),
	TAP_CASE(test_version_clamps_to_tables),
	TAP_CASE(test_deny),
	TAP_CASE(test_deny_name_length),
	TAP_CASE(test_set_fullscreen),
	TAP_CASE(test_comments_and_blanks),
	TAP_CASE(test_crlf),
	TAP_CASE(test_no_trailing_newline),
	TAP_CASE(test_empty_policy),
	TAP_CASE(test_length_not_nul),
	TAP_CASE(test_errors),
	TAP_CASE(test_first_error_wins),
	TAP_CASE(test_error_quotes_control_chars),
	TAP_CASE(test_nul_byte),
	TAP_CASE(test_source_name),
	TAP_CASE(test_line_length_cap),
	TAP_CASE(test_entry_cap),
	TAP_CASE(test_size_cap),
	TAP_CASE(test_small_error_buffer),
	TAP_CASE(test_max_version_edge_cases),
	TAP_CASE(test_load_file),
	TAP_CASE(test_load_file_too_big),
};

TAP_MAIN(cases)
