/** Parsers for command outputs an SRE attaches by hand (`POST /v1/hosts/{hostId}/evidence`). */
export * from "./fuser.js";
export * from "./ls.js";
export * from "./lsof.js";
