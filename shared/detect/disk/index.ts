import type { HostView } from "../../view/host-view.js";
import type { Detector } from "../types.js";
import { attachedDiskMissing } from "./attached-disk-missing.js";
import { diskSerialMismatch } from "./disk-serial-mismatch.js";
import { driverlessBdf } from "./driverless-bdf.js";
import { reattachBdfRace } from "./reattach-bdf-race.js";
import { staleBlockDevice } from "./stale-block-device.js";
import { traceBlindSpot } from "./trace-blind-spot.js";
import { wrongDriverBound } from "./wrong-driver-bound.js";

/** Detectors over PCI functions, NVMe controllers, block devices, the trace and the kernel log. */
export const diskDetectors: readonly Detector<HostView>[] = [
  reattachBdfRace,
  attachedDiskMissing,
  traceBlindSpot,
  driverlessBdf,
  wrongDriverBound,
  staleBlockDevice,
  diskSerialMismatch,
];
