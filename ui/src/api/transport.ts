// The one transport seam of the UI: inside the desktop shell every operation goes over
// Tauri IPC (`invoke("eio_call")`) and live updates arrive as Tauri events (`eio://live`);
// in a browser operations go over HTTP to `eio serve` and live updates arrive as
// Server-Sent Events (`/api/events`). Either way a failure arrives as an ApiError
// {code, message} and a live update as a LiveEvent.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { ApiError, HttpMethod, LiveEvent, OperationName, Transport } from "./bindings.gen";

export function inDesktop(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

export function isApiError(e: unknown): e is ApiError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Turn anything thrown into an ApiError a page can show as a sentence. */
export function toApiError(e: unknown): ApiError {
  if (isApiError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return { code: "unavailable", message: `Cannot reach the EIO backend: ${message}` };
}

export const tauriTransport: Transport = {
  async call<T>(op: OperationName, _method: HttpMethod, _path: string, input: unknown): Promise<T> {
    try {
      return await invoke<T>("eio_call", { op, input: input ?? {} });
    } catch (e) {
      throw toApiError(e);
    }
  },
};

/**
 * Query string for GET operations (the convention `eio serve` documents): one parameter
 * per field, numbers in decimal, booleans true/false, lists repeated; null/undefined and
 * empty strings are left out.
 */
export function toQuery(input: unknown): string {
  if (!input || typeof input !== "object") return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => params.append(k, String(x)));
    else params.append(k, String(v));
  }
  const q = params.toString();
  return q ? `?${q}` : "";
}

/** Called when the HTTP API says the session is gone (401): the app shows sign-in. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: (() => void) | null) {
  onUnauthorized = handler;
}

export function httpTransport(base = "", fetchImpl: typeof fetch = (...a) => fetch(...a)): Transport {
  return {
    async call<T>(_op: OperationName, method: HttpMethod, path: string, input: unknown): Promise<T> {
      let response: Response;
      try {
        response =
          method === "GET"
            ? await fetchImpl(base + path + toQuery(input), {
                headers: { accept: "application/json" },
                credentials: "same-origin",
              })
            : await fetchImpl(base + path, {
                method,
                headers: { "content-type": "application/json", accept: "application/json" },
                body: JSON.stringify(input ?? {}),
                credentials: "same-origin",
              });
      } catch (e) {
        throw toApiError(e);
      }
      const body: unknown = await response.json().catch(() => null);
      if (!response.ok) {
        if (response.status === 401) onUnauthorized?.();
        const err = (body as { error?: unknown } | null)?.error;
        throw isApiError(err) ? err : { code: "internal", message: `HTTP ${response.status}` };
      }
      return body as T;
    },
  };
}

/** A live-update subscription: call the returned function to stop. */
export type LiveSubscribe = (handler: (e: LiveEvent) => void) => () => void;

const LIVE_KINDS = ["job", "job_event", "approval", "kill_switch", "inventory", "resync"] as const;

/** Live updates in a browser: the server's event stream (reconnects by itself; a reconnect is a resync). */
export function sseSubscribe(url = "/api/events", Source?: typeof EventSource): LiveSubscribe {
  return (handler) => {
    // Looked up when subscribing, so importing this module needs no EventSource (tests, desktop).
    const source = new (Source ?? EventSource)(url, { withCredentials: true });
    let opened = false;
    const onMessage = (m: MessageEvent<string>) => {
      try {
        handler(JSON.parse(m.data) as LiveEvent);
      } catch {
        // Not an event we understand: ignore it.
      }
    };
    for (const kind of LIVE_KINDS) source.addEventListener(kind, onMessage as EventListener);
    source.addEventListener("ready", () => {
      if (opened) handler(resyncEvent());
      opened = true;
    });
    return () => source.close();
  };
}

/** Live updates in the desktop: Tauri events the shell emits from its LISTEN task. */
export const tauriSubscribe: LiveSubscribe = (handler) => {
  let stop: (() => void) | null = null;
  let cancelled = false;
  listen<LiveEvent>("eio://live", (e) => handler(e.payload))
    .then((unlisten) => {
      if (cancelled) unlisten();
      else stop = unlisten;
    })
    .catch(() => {
      // No event system (not in the shell): no live updates.
    });
  return () => {
    cancelled = true;
    stop?.();
  };
};

export function resyncEvent(): LiveEvent {
  return {
    kind: "resync",
    job_id: null,
    status: null,
    job_type: null,
    initiated_by_user: null,
    event_id: null,
    level: null,
    engaged: null,
    source: null,
  };
}
