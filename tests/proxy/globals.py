#!/usr/bin/python3
"""wayland-info through vmdesk-proxy lists exactly the allowed globals.

Allowed = the policy's `allow` interfaces that the compositor itself offers
(compared with wayland-info run directly on the compositor), plus the
decoration globals the proxy serves itself whether the compositor offers them
or not. Versions never exceed the compositor's (the proxy's own for served
ones) nor the policy's MAX_VERSION.
"""

import os
import tempfile

import tap
from compositor import Sway, Weston
from proxy import Proxy, default_policy, parse_policy, wayland_globals

suite = tap.Suite()
VM = "work"


# Served by vmdesk-proxy itself (proxy/decoration.c), at this version.
SERVED = {"zxdg_decoration_manager_v1": 1, "org_kde_kwin_server_decoration_manager": 1}


def expected_globals(direct, allowed):
	expected = {name: version for name, version in direct.items()
	            if name in allowed and name not in SERVED}
	expected.update({name: version for name, version in SERVED.items() if name in allowed})
	return expected


def compare(comp, p, allowed):
	direct = wayland_globals(comp.env())
	via = wayland_globals(p.env(comp))
	expected = expected_globals(direct, allowed)
	tap.diag("compositor offers %d globals, proxy shows %d, policy allows %d of them"
	         % (len(direct), len(via), len(expected)))
	leaked = sorted(set(via) - set(expected))
	missing = sorted(set(expected) - set(via))
	assert not leaked and not missing, (
		"globals through the proxy differ from policy and compositor:\n"
		"  shown but not allowed or not offered: %r\n  allowed and offered but missing: %r"
		% (leaked, missing))
	for name, version in via.items():
		limit = SERVED.get(name) or direct[name]
		assert version <= limit, "%s version %d above the compositor's %d" % (
			name, version, limit)
		cap = allowed[name]
		assert cap is None or version <= cap, "%s version %d above the policy's %d" % (
			name, version, cap)
	return direct, via


@suite.test
def test_default_policy_on_sway():
	allowed = parse_policy(default_policy())
	assert "wl_compositor" in allowed and "zwlr_screencopy_manager_v1" not in allowed
	with Sway() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		direct, via = compare(comp, p, allowed)
		# sway offers these capture/injection globals; they must not pass.
		for hidden in ("zwlr_screencopy_manager_v1", "zwlr_data_control_manager_v1",
		               "zwlr_layer_shell_v1", "zwp_virtual_keyboard_manager_v1",
		               "zwlr_foreign_toplevel_manager_v1", "zwp_input_method_manager_v2"):
			assert hidden in direct, "sway no longer offers %s: update the test" % hidden
			assert hidden not in via, "%s leaked through the proxy" % hidden
		assert "wl_seat" in via


@suite.test
def test_default_policy_on_weston():
	allowed = parse_policy(default_policy())
	with Weston() as comp, Proxy(vm=VM, upstream=comp.display) as p:
		direct, via = compare(comp, p, allowed)
		for hidden in ("weston_desktop_shell", "weston_screenshooter",
		               "zwp_input_timestamps_manager_v1", "zwp_input_panel_v1"):
			if hidden in direct:
				assert hidden not in via, "%s leaked through the proxy" % hidden


@suite.test
def test_custom_policy_with_version_caps():
	with tempfile.TemporaryDirectory() as tmp:
		path = os.path.join(tmp, "small.policy")
		with open(path, "w") as f:
			f.write("# a small policy\nallow wl_compositor 3\nallow wl_shm\n"
			        "allow xdg_wm_base 1   # old shell only\nallow wl_output\n"
			        "deny zwlr_screencopy_manager_v1\n")
		allowed = parse_policy(path)
		with Sway() as comp, Proxy(vm=VM, upstream=comp.display, args=["--policy", path]) as p:
			direct, via = compare(comp, p, allowed)
			assert set(via) == {"wl_compositor", "wl_shm", "xdg_wm_base", "wl_output"}, via
			assert via["wl_compositor"] == min(3, direct["wl_compositor"]), via
			assert via["xdg_wm_base"] == 1, via


@suite.test
def test_two_vms_with_different_policies_on_one_compositor():
	with tempfile.TemporaryDirectory() as tmp:
		path = os.path.join(tmp, "tiny.policy")
		with open(path, "w") as f:
			f.write("allow wl_compositor\nallow wl_shm\nallow xdg_wm_base\n")
		with Sway() as comp, \
				Proxy(vm="full", upstream=comp.display) as full, \
				Proxy(vm="tiny", upstream=comp.display, args=["--policy", path]) as tiny:
			compare(comp, full, parse_policy(default_policy()))
			compare(comp, tiny, parse_policy(path))


suite.run()
