// The one transport seam of the UI: inside the desktop shell every operation goes over
// Tauri IPC (`invoke("eio_call")`); in a browser it goes over HTTP to `eio serve`.
// Either way a failure arrives as an ApiError {code, message}.
import { invoke } from "@tauri-apps/api/core";
import type { ApiError, HttpMethod, OperationName, Transport } from "./bindings.gen";

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

/** Query string for GET operations: scalar fields only, arrays repeated. */
export function toQuery(input: unknown): string {
  if (!input || typeof input !== "object") return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) v.forEach((x) => params.append(k, String(x)));
    else params.append(k, String(v));
  }
  const q = params.toString();
  return q ? `?${q}` : "";
}

export function httpTransport(base = "", fetchImpl: typeof fetch = (...a) => fetch(...a)): Transport {
  return {
    async call<T>(_op: OperationName, method: HttpMethod, path: string, input: unknown): Promise<T> {
      let response: Response;
      try {
        response =
          method === "GET"
            ? await fetchImpl(base + path + toQuery(input), { headers: { accept: "application/json" } })
            : await fetchImpl(base + path, {
                method,
                headers: { "content-type": "application/json", accept: "application/json" },
                body: JSON.stringify(input ?? {}),
              });
      } catch (e) {
        throw toApiError(e);
      }
      const body: unknown = await response.json().catch(() => null);
      if (!response.ok) {
        const err = (body as { error?: unknown } | null)?.error;
        throw isApiError(err) ? err : { code: "internal", message: `HTTP ${response.status}` };
      }
      return body as T;
    },
  };
}
