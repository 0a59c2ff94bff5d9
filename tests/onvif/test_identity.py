"""The scopes as Home Assistant's config flow reads them when it lists discovered cameras."""

from __future__ import annotations

from pathlib import Path

from edge.onvif import identity
from edge.onvif.identity import Identity
from hw.host_addresses import Ipv4Interface, hardware_interfaces
from testbed.onvif import home_assistant_lists

PI = Identity(model="Raspberry Pi 4 Model B Rev 1.4", serial="10000000abcdef", hostname="garden-cam")


def test_home_assistant_lists_the_name_and_model_readably():
    assert home_assistant_lists(PI.scopes()) == {"name": "garden-cam", "hardware": "Raspberry_Pi_4_Model_B_Rev_1.4"}
    odd = Identity(model="Board 2/B (v1)", serial="1", hostname="cam")
    assert home_assistant_lists(odd.scopes())["hardware"] == "Board_2_B_v1"
    assert all(" " not in scope for scope in PI.scopes()), "scopes are separated by spaces"


def test_audio_is_announced_only_when_the_profile_has_it():
    audio = "onvif://www.onvif.org/type/audio_encoder"
    assert audio not in PI.scopes()
    assert audio in Identity(model="m", serial="s", hostname="h", audio=True).scopes()


def fake_sys_net(root: Path, devices: dict[str, str], virtual: dict[str, str]) -> Path:
    for name, mac in {**devices, **virtual}.items():
        (root / name).mkdir(parents=True)
        (root / name / "address").write_text(mac + "\n")
        if name in devices:
            (root / name / "device").mkdir()
    return root


def test_the_interface_home_assistant_keys_the_camera_on_stays_when_networks_come_and_go(tmp_path, monkeypatch):
    """HA takes the first enabled interface's MAC as the camera's id (and the last one's for its device)."""
    sys_net = fake_sys_net(
        tmp_path, {"eth0": "dc:a6:32:00:00:01", "wlan0": "dc:a6:32:00:00:02"}, {"docker0": "02:42:00:00:00:03"}
    )
    wifi_only = [Ipv4Interface("wlan0", "dc:a6:32:00:00:02", (("192.168.1.20", 24),))]
    both = [Ipv4Interface("eth0", "dc:a6:32:00:00:01", (("192.168.1.21", 24),)), *wifi_only]
    seen = []
    for served in (wifi_only, both, wifi_only):
        monkeypatch.setattr(identity, "served_interfaces", lambda _host, served=served: served)
        listed = identity.listed_interfaces("0.0.0.0", sys_net)
        seen.append([(i.name, i.hardware_address, bool(i.addresses)) for i in listed])
    assert seen[0] == seen[2] == [("eth0", "dc:a6:32:00:00:01", False), ("wlan0", "dc:a6:32:00:00:02", True)]
    assert seen[1] == [("eth0", "dc:a6:32:00:00:01", True), ("wlan0", "dc:a6:32:00:00:02", True)]
    monkeypatch.setattr(identity, "served_interfaces", lambda _host: wifi_only)
    assert identity.listed_interfaces("192.168.1.20", sys_net) == wifi_only, "[server] host: its interface alone"
    assert identity.listed_interfaces("0.0.0.0", tmp_path / "none") == wifi_only, "no hardware: what is served"


def pi_sys_net(root: Path, devices: dict[str, str]) -> Path:
    """A /sys/class/net whose ``device`` links point where a Pi's do (``devices``: name to its path under
    /sys/devices)."""
    for name, device in devices.items():
        (root / "devices" / device).mkdir(parents=True)
        (root / "class" / name).mkdir(parents=True)
        (root / "class" / name / "address").write_text(f"dc:a6:32:00:00:{len(name):02x}\\n")
        (root / "class" / name / "device").symlink_to(root / "devices" / device)
    return root / "class"


def test_a_usb_adapter_plugged_in_does_not_come_before_the_boards_own_interfaces(tmp_path):
    """The first one's MAC is Home Assistant's unique id for the camera."""
    xhci = "platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb2"
    usb, other_usb = f"{xhci}/2-1/2-1:1.0", f"{xhci}/2-2/2-2:1.0"
    pi4 = pi_sys_net(
        tmp_path / "pi4",
        {
            "eth0": "platform/scb/fd580000.ethernet",
            "wlan0": "platform/soc/fe300000.mmcnr/mmc_host/mmc1/mmc1:0001/mmc1:0001:1",
            "eth1": usb,
            "enx00e04c680001": other_usb,
        },
    )
    assert [name for name, _ in hardware_interfaces(pi4)] == ["eth0", "wlan0", "enx00e04c680001", "eth1"]
    predictable = pi_sys_net(tmp_path / "debian", {"end0": "platform/scb/fd580000.ethernet", "enx00e04c680001": usb})
    assert hardware_interfaces(predictable)[0][0] == "end0"
    pi3 = pi_sys_net(
        tmp_path / "pi3",
        {"eth0": "platform/soc/3f980000.usb/usb1/1-1/1-1.1/1-1.1:1.0", "enx00e04c680001": usb, "eth1": other_usb},
    )
    assert hardware_interfaces(pi3)[0][0] == "eth0", "a Pi 3's Ethernet is on USB itself"
