/**
 * An in-memory EventSource with SQS's delivery rules (visibility timeout, a fresh receipt handle per
 * receive, at most 10 per receive) on a simulated clock, for unit tests of drainEvents. A long poll
 * on an empty queue advances the clock by the wait instead of sleeping.
 */
import type { EventSource, SourceMessage } from "../../shared/pipeline/drain-events.js";

interface Held {
  id: string;
  body: string;
  visibleAtMs: number;
  receiptHandle: string | null;
  receives: number;
}

export interface MemorySourceOptions {
  /** Simulated start time (epoch ms). */
  startMs?: number;
  visibilityTimeoutSeconds?: number;
  /** Simulated time every receive takes, messages or not (network round trip). */
  receiveCostMs?: number;
}

/** An EventSource double; `now()` is the clock to hand drainEvents. */
export class MemoryEventSource implements EventSource {
  private held: Held[] = [];
  private nextId = 1;
  private handles = 0;
  private clockMs: number;
  private readonly visibilityMs: number;
  private readonly receiveCostMs: number;
  /** Every receive: when it started, the wait asked for, and how many messages it returned. */
  readonly polls: { startedAtMs: number; waitSeconds: number; got: number }[] = [];
  /** Every ack call, with the message ids it deleted. */
  readonly acks: string[][] = [];
  /** How many of the next ack calls reject (a failed DeleteMessageBatch). */
  failAcks = 0;

  constructor(opts: MemorySourceOptions = {}) {
    this.clockMs = opts.startMs ?? Date.UTC(2026, 2, 3, 10, 0, 0);
    this.visibilityMs = (opts.visibilityTimeoutSeconds ?? 30) * 1000;
    this.receiveCostMs = opts.receiveCostMs ?? 0;
  }

  readonly now = (): number => this.clockMs;

  /** Moves the simulated clock forward. */
  advance(ms: number): void {
    this.clockMs += ms;
  }

  /** Enqueues raw message bodies; returns their message ids. */
  send(...bodies: string[]): string[] {
    return bodies.map((body) => {
      const id = `msg-${String(this.nextId++).padStart(3, "0")}`;
      this.held.push({ id, body, visibleAtMs: 0, receiptHandle: null, receives: 0 });
      return id;
    });
  }

  /** Messages still on the queue (visible or in flight), by id. */
  remaining(): string[] {
    return this.held.map((m) => m.id);
  }

  async receive(max: number, waitSeconds: number): Promise<SourceMessage[]> {
    const startedAtMs = this.clockMs;
    this.clockMs += this.receiveCostMs;
    let ready = this.held.filter((m) => m.visibleAtMs <= this.clockMs);
    if (ready.length === 0 && waitSeconds > 0) {
      // Nothing arrives while we wait (the test enqueues up front): the poll just uses its wait.
      this.clockMs += waitSeconds * 1000;
      ready = this.held.filter((m) => m.visibleAtMs <= this.clockMs);
    }
    const picked = ready.slice(0, Math.min(10, max));
    for (const m of picked) {
      m.visibleAtMs = this.clockMs + this.visibilityMs;
      m.receiptHandle = `rh-${++this.handles}`;
      m.receives++;
    }
    this.polls.push({ startedAtMs, waitSeconds, got: picked.length });
    return picked.map((m) => ({ id: m.id, receiptHandle: m.receiptHandle ?? "", body: m.body }));
  }

  async ack(handles: readonly string[]): Promise<void> {
    if (this.failAcks > 0) {
      this.failAcks--;
      throw new Error("DeleteMessageBatch: 10 entries failed");
    }
    const wanted = new Set(handles);
    this.acks.push(this.held.filter((m) => m.receiptHandle && wanted.has(m.receiptHandle)).map((m) => m.id));
    this.held = this.held.filter((m) => !(m.receiptHandle && wanted.has(m.receiptHandle)));
  }
}
