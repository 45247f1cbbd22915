import { describe, expect, it } from "vitest";
import { decidedBy, subjectNamespace } from "../../../../shared/detect/mount/decided.js";
import { hostRootFor, podUidOfMountPoint } from "../../../../shared/detect/mount/namespaces.js";

describe("hostRootFor: the host kubelet root behind a root a container sees", () => {
  it.each([
    { seen: "/var/lib/kubelet", roots: ["/var/lib/kubelet"], host: "/var/lib/kubelet" },
    { seen: "/host/var/lib/kubelet", roots: ["/var/lib/kubelet"], host: "/var/lib/kubelet" },
    { seen: "/rootfs/data/kubelet", roots: ["/data/kubelet", "/var/lib/kubelet"], host: "/data/kubelet" },
    // Only a whole path component matches: `/x/lib/kubelet` does not end with `/b/lib/kubelet`.
    { seen: "/mykubelet", roots: ["/kubelet", "/var/lib/kubelet"], host: "/mykubelet" },
    // The host has one kubelet root: a container mounting it elsewhere sees that one.
    { seen: "/kubelet-data", roots: ["/data/kubelet"], host: "/data/kubelet" },
    { seen: "/kubelet-data", roots: ["/data/kubelet", "/var/lib/kubelet"], host: "/kubelet-data" },
  ])("$seen with host roots $roots is $host", ({ seen, roots, host }) => {
    expect(hostRootFor(seen, roots)).toBe(host);
  });
});

describe("podUidOfMountPoint", () => {
  it.each([
    [
      "/var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~projected/x",
      "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11",
    ],
    ["/data/kubelet/pods/0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"],
    ["/var/lib/kubelet/pods/not-a-uid/volumes", null],
    ["/srv/pods", null],
  ])("%s -> %s", (path, uid) => {
    expect(podUidOfMountPoint(path)).toBe(uid);
  });
});

describe("decidedBy", () => {
  it("answers has() for subjects it met and, by rule, for subjects it never saw", () => {
    const d = decidedBy(["/a|mnt:[1]"], (s) => subjectNamespace(s) === 2);
    expect([d.has("/a|mnt:[1]"), d.has("/b|mnt:[2]"), d.has("/c|mnt:[3]")]).toEqual([true, true, false]);
  });

  it.each([
    ["/var/lib/kubelet/plugins/kubernetes.io/csi/pv/p/globalmount|mnt:[4026532871]", 4026532871],
    ["group 62|pid 1|2", null],
  ])("subjectNamespace(%s) is %s", (subject, inode) => {
    expect(subjectNamespace(subject)).toBe(inode);
  });
});
