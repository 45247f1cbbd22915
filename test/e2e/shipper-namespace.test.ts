/**
 * On this real machine, as root: a real foreign mount namespace that keeps a CSI globalmount the host
 * namespace has unmounted (INC-2), and a namespace pinned only by an nsfs bind mount (mount namespace
 * capture). `faultline collect --root /` must ship the holder's mountinfo with the path, the host's
 * without it, and the pinned namespace's mountinfo read through nsenter. Everything is cleaned up.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SnapshotBundle } from "../../shared/contracts/snapshot.js";
import { CSI_DRIVER, STAGING_HASH } from "../support/host-tree.js";

const REPO = resolve(import.meta.dirname, "../..");

function missing(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0;
}

const skipReason =
  process.getuid?.() !== 0
    ? "needs root to mount and unshare"
    : missing("unshare") || missing("nsenter")
      ? "unshare or nsenter (util-linux) is not installed"
      : process.platform !== "linux"
        ? "needs Linux mount namespaces"
        : undefined;

function mountinfoHas(path: string, pid: number | "self"): boolean {
  return readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(` ${path} `);
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skipReason !== undefined)(
  `collect --root / on real mount namespaces${skipReason ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    let dir = "";
    let holder: ChildProcess | undefined;
    let leaked = "";
    let pinnedPath = "";
    let pinFile = "";
    let bundle: SnapshotBundle;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "faultline-ns-"));
      // INC-2: mount a "staged volume", let a private namespace copy it, then unstage it on the host.
      leaked = join(
        dir,
        "var/lib/kubelet/plugins/kubernetes.io/csi",
        CSI_DRIVER,
        STAGING_HASH["d-bp1g6qn7zcd3f8l2x9ab"],
        "globalmount",
      );
      mkdirSync(leaked, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "faultline-leak", leaked]);
      holder = spawn("unshare", ["-m", "--propagation", "private", "sleep", "600"], { stdio: "ignore" });
      const pid = holder.pid ?? 0;
      await until("the holder's namespace", () => {
        try {
          return (
            readlinkSync(`/proc/${pid}/ns/mnt`) !== readlinkSync("/proc/self/ns/mnt") &&
            mountinfoHas(leaked, pid)
          );
        } catch {
          return false;
        }
      });
      execFileSync("umount", [leaked]);
      expect(mountinfoHas(leaked, "self"), "unmounted in the host namespace").toBe(false);

      // Mount namespace capture: a namespace with no process, kept only by an nsfs bind mount.
      const pinDir = join(dir, "pin");
      mkdirSync(pinDir);
      execFileSync("mount", ["--bind", pinDir, pinDir]);
      execFileSync("mount", ["--make-private", pinDir]);
      pinFile = join(pinDir, "mnt");
      writeFileSync(pinFile, "");
      pinnedPath = join(dir, "var/lib/kubelet/plugins/kubernetes.io/csi/pv/pv-pinned/globalmount");
      mkdirSync(pinnedPath, { recursive: true });
      execFileSync("unshare", [
        `--mount=${pinFile}`,
        "--propagation",
        "private",
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=1m",
        "faultline-pinned",
        pinnedPath,
      ]);

      const out = join(dir, "bundle.json.gz");
      const r = spawnSync(
        process.execPath,
        [join(REPO, "bin/faultline.mjs"), "collect", "--root", "/", "--host-id", "i-ns-e2e", "--out", out],
        {
          encoding: "utf8",
          timeout: 60_000,
        },
      );
      expect(r.status, r.stderr).toBe(0);
      bundle = SnapshotBundle.parse(JSON.parse(gunzipSync(readFileSync(out)).toString("utf8")));
    }, 90_000);

    afterAll(() => {
      holder?.kill("SIGKILL");
      for (const m of [leaked, pinFile, pinFile && join(dir, "pin")]) {
        if (m) spawnSync("umount", [m], { stdio: "ignore" });
      }
      if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    });

    const text = (path: string): string => {
      const e = bundle.evidence[path];
      return e?.kind === "file" ? e.data : "";
    };

    it("ships the holder's mountinfo with the globalmount, tagged with its namespace", () => {
      const pid = holder?.pid ?? 0;
      const ns = bundle.evidence[`proc/${pid}/ns/mnt`];
      expect(ns?.kind === "link" && ns.target, "the holder's ns/mnt").toBe(
        readlinkSync(`/proc/${pid}/ns/mnt`),
      );
      expect(text(`proc/${pid}/mountinfo`)).toContain(` ${leaked} `);
    });

    it("ships the host's mount table without it, and says which namespace is the host's and why", () => {
      expect(text("proc/1/mountinfo")).not.toContain(leaked);
      const host = bundle.capture.hostNamespace;
      expect(host.mnt, host.reason).toBe(readlinkSync("/proc/self/ns/mnt"));
      const hostReps = Object.entries(bundle.evidence).filter(
        ([k, e]) => /^proc\/\d+\/ns\/mnt$/.test(k) && e.kind === "link" && e.target === host.mnt,
      );
      const hostMountinfo = hostReps
        .map(([k]) => k.replace("ns/mnt", "mountinfo"))
        .filter((k) => k in bundle.evidence);
      expect(hostMountinfo.length, "a representative of the host namespace").toBeGreaterThan(0);
      for (const k of hostMountinfo) expect(text(k), k).not.toContain(leaked);
    });

    it("reads the pinned namespace through nsenter into faultline/pinned-ns/<N>/mountinfo", () => {
      const pins = Object.keys(bundle.evidence).filter((k) => k.startsWith("faultline/pinned-ns/"));
      const withPath = pins.filter((k) => text(k).includes(` ${pinnedPath} `));
      expect(
        withPath,
        `pinned entries: ${pins.join(", ")}; gaps: ${bundle.capture.gaps.join("; ")}`,
      ).toHaveLength(1);
      expect(text("proc/1/mountinfo")).toMatch(new RegExp(` mnt:\\[\\d+\\] ${pinFile} .* - nsfs `));
    });
  },
);
