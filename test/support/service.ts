/** Starts the real Worker on miniflare (in-memory D1/R2/Queues) with a known admin token, for worker tests. */
import { type LocalService, startLocalService } from "../../infra/node/local-service.js";

export const ADMIN_TOKEN = "fl_test_admin_token_0123456789";

export interface TestService extends LocalService {
  /** fetch against the service with an optional bearer token. */
  call(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** Polls `check` until it returns a value other than undefined (queue delivery is asynchronous). */
  eventually<T>(check: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
}

export async function startTestService(vars: Record<string, string> = {}): Promise<TestService> {
  const svc = await startLocalService({
    queueBatchTimeout: 0,
    quiet: process.env.FAULTLINE_TEST_LOGS !== "1",
    vars: { FAULTLINE_ADMIN_TOKEN: ADMIN_TOKEN, ...vars },
  });
  return {
    ...svc,
    call(path, init = {}) {
      const { token = ADMIN_TOKEN, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return fetch(new URL(path, svc.url), { ...rest, headers });
    },
    async eventually(check, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const v = await check();
        if (v !== undefined) return v;
        if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
