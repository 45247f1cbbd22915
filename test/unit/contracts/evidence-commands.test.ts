import { describe, expect, it } from "vitest";
import { recognizeCommand, supportedCommands } from "../../../shared/evidence/commands.js";

describe("recognizeCommand", () => {
  it.each([
    ["ls -l /sys/block", "ls-sys-block"],
    ["/bin/ls -l /sys/block/nvme2n1", "ls-sys-block"],
    ["find /sys/block -maxdepth 1 -mindepth 1 -printf '%f %l\\n'", "ls-sys-block"],
    ["ls /dev/vfio", "ls-dev-vfio"],
    ["sudo ls -l /dev/vfio/", "ls-dev-vfio"],
    ["ls /sys/kernel/iommu_groups/63/devices", "ls-iommu-group"],
    ["lsof -F pcuftDirn /dev/vfio/62", "lsof"],
    ["lsof -w /dev/vfio/63", "lsof"],
    ["LC_ALL=C fuser -mv /var/lib/kubelet/plugins/kubernetes.io/csi/pv/pv-1/globalmount 2>&1", "fuser"],
    ["cat /sys/kernel/debug/tracing/trace", "trace"],
    ["dmesg -r", "dmesg"],
    ["journalctl -k -o short-monotonic", "dmesg"],
    ["cat /proc/77102/mountinfo", "mountinfo"],
  ])("reads %j as %s", (line, kind) => {
    expect(recognizeCommand(line)).toBe(kind);
  });

  it.each(["rm -rf /", "cat /etc/passwd", "", "ls /tmp"])("refuses %j", (line) => {
    expect(recognizeCommand(line)).toBeNull();
  });

  it("lists an example for every supported command", () => {
    for (const example of supportedCommands()) expect(recognizeCommand(example), example).not.toBeNull();
  });
});
