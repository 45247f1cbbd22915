import { describe, expect, it } from "vitest";
import { classifyKubeletPath } from "../../../shared/parse/csi-paths.js";

const uid = "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11";

describe("classifyKubeletPath: the CSI markers", () => {
  it.each([
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~projected/kube-api-access-7x2kq`,
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~secret/tls`,
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~configmap/config`,
    `/var/lib/kubelet/pods/${uid}/volume-subpaths/kubernetes.io~csi-x/c/0`,
    "/var/lib/kubelet/plugins/kubernetes.io/csix/pv/p/globalmount",
  ])("finds no CSI path in %s", (path) => {
    expect(classifyKubeletPath(path)).toBeNull();
  });

  it("reads a path whose kubelet root also holds a marker from its own tail", () => {
    expect(
      classifyKubeletPath("/srv/kubernetes.io~csi/kubelet/plugins/kubernetes.io/csi/pv/pvc-1/globalmount"),
    ).toEqual({
      kind: "staging",
      version: 1,
      root: "/srv/kubernetes.io~csi/kubelet",
      driver: null,
      volumeHash: null,
      pv: "pvc-1",
    });
    expect(
      classifyKubeletPath("/srv/plugins/kubernetes.io/csi/x/volumes/kubernetes.io~secret/tls"),
    ).toBeNull();
  });

  it("finds the marker after an earlier kubernetes.io that is not one", () => {
    expect(
      classifyKubeletPath("/srv/kubernetes.io/kubelet/plugins/kubernetes.io/csi/pv/pvc-1/globalmount"),
    ).toMatchObject({ kind: "staging", root: "/srv/kubernetes.io/kubelet", pv: "pvc-1" });
    expect(
      classifyKubeletPath(`/k/kubernetes.io~cs/kubelet/pods/${uid}/volumes/kubernetes.io~csi/pvc-2/mount`),
    ).toMatchObject({ kind: "publish", root: "/k/kubernetes.io~cs/kubelet", pv: "pvc-2" });
    expect(classifyKubeletPath("/var/lib/kubelet/kubernetes.io")).toBeNull();
    expect(classifyKubeletPath("/var/lib/kubelet/kubernetes.io/cs")).toBeNull();
  });
});
