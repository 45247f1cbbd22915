import type { HostView } from "../../view/host-view.js";
import type { Detector } from "../types.js";
import { globalmountHeldForeignNs } from "./globalmount-held-foreign-ns.js";
import { orphanGlobalmount } from "./orphan-globalmount.js";
import { vfioGroupHeldByDeadProcess } from "./vfio-group-held-by-dead-process.js";

/** Detectors over mount namespaces and vfio holders. */
export const mountDetectors: readonly Detector<HostView>[] = [
  globalmountHeldForeignNs,
  orphanGlobalmount,
  vfioGroupHeldByDeadProcess,
];
