import { describe, expect, it } from "vitest";
import { makeApi } from "./bindings.gen";
import { httpTransport, sseSubscribe, toApiError, toQuery } from "./transport";

describe("http transport", () => {
  it("GETs the operation's path and returns the page model", async () => {
    const seen: string[] = [];
    const fake = (async (url: string) => {
      seen.push(url);
      return new Response(JSON.stringify({ pending_approvals: 3 }), { status: 200 });
    }) as unknown as typeof fetch;
    const api = makeApi(httpTransport("http://eio.test", fake));
    const page = await api.status();
    expect(seen).toEqual(["http://eio.test/api/status"]);
    expect(page.pending_approvals).toBe(3);
  });

  it("turns an error body into the ApiError the backend sent", async () => {
    const fake = (async () =>
      new Response(JSON.stringify({ error: { code: "forbidden", message: "permission denied: x" } }), {
        status: 403,
      })) as unknown as typeof fetch;
    const api = makeApi(httpTransport("", fake));
    await expect(api.status()).rejects.toEqual({ code: "forbidden", message: "permission denied: x" });
  });

  it("reports an unreachable backend as unavailable, in words", async () => {
    const fake = (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch;
    const api = makeApi(httpTransport("", fake));
    await expect(api.status()).rejects.toMatchObject({ code: "unavailable" });
  });
});

describe("helpers", () => {
  it("builds query strings from scalar and array fields", () => {
    expect(toQuery({ q: "web 01", tag: ["a", "b"], none: null })).toBe("?q=web+01&tag=a&tag=b");
    expect(toQuery({})).toBe("");
  });
  it("keeps ApiErrors as they are", () => {
    expect(toApiError({ code: "conflict", message: "m" })).toEqual({ code: "conflict", message: "m" });
  });
});

describe("live updates over SSE", () => {
  class FakeSource {
    static last: FakeSource | null = null;
    listeners = new Map<string, ((e: MessageEvent<string>) => void)[]>();
    closed = false;
    constructor(public url: string) {
      FakeSource.last = this;
    }
    addEventListener(kind: string, l: (e: MessageEvent<string>) => void) {
      this.listeners.set(kind, [...(this.listeners.get(kind) ?? []), l]);
    }
    fire(kind: string, data: string) {
      for (const l of this.listeners.get(kind) ?? []) l({ data } as MessageEvent<string>);
    }
    close() {
      this.closed = true;
    }
  }

  it("delivers events by kind, and a reconnect as a resync", () => {
    const seen: string[] = [];
    const stop = sseSubscribe("/api/events", FakeSource as unknown as typeof EventSource)((e) => seen.push(e.kind));
    const src = FakeSource.last!;
    src.fire("ready", "{}");
    src.fire("job", JSON.stringify({ kind: "job", job_id: "x" }));
    src.fire("kill_switch", "not json");
    src.fire("ready", "{}");
    expect(seen).toEqual(["job", "resync"]);
    stop();
    expect(src.closed).toBe(true);
  });
});
