/**
 * `decided` for detectors whose subjects cannot all be listed: an episode for a namespace that has since
 * unmounted the staging path (or a holder pid that has exited) names a subject this run never sees, yet
 * the run can decide it. `has` answers by rule; iteration yields only the subjects the run met.
 */
export class DecidedByRule extends Set<string> {
  constructor(
    known: Iterable<string>,
    private readonly rule: (subject: string) => boolean,
  ) {
    super(known);
  }

  /** The subject was met and decided, or the rule says evidence for it was complete. */
  override has(subject: string): boolean {
    return super.has(subject) || this.rule(subject);
  }
}

/** The namespace inode of a `…|mnt:[N]` subject, or null. */
export function subjectNamespace(subject: string): number | null {
  const m = /\|mnt:\[(\d+)\]$/.exec(subject);
  return m?.[1] ? Number(m[1]) : null;
}
