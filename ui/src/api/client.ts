import { invoke } from "@tauri-apps/api/core";
import { makeApi, makeDesktop, type WebSession, type WebSignIn } from "./bindings.gen";
import {
  httpTransport,
  inDesktop,
  isApiError,
  sseSubscribe,
  tauriSubscribe,
  tauriTransport,
  toApiError,
  type LiveSubscribe,
} from "./transport";

/** The typed backend, over whichever transport this page runs on. */
export const api = makeApi(inDesktop() ? tauriTransport : httpTransport());

/** Live updates, over whichever transport this page runs on. */
export const subscribeLive: LiveSubscribe = inDesktop() ? tauriSubscribe : sseSubscribe();

/** Desktop-only commands (sign-in to a database); null in a browser. */
export const desktop = inDesktop()
  ? makeDesktop(async <T,>(command: string, args: Record<string, unknown>): Promise<T> => {
      try {
        return await invoke<T>(command, args);
      } catch (e) {
        throw toApiError(e);
      }
    })
  : null;

async function sessionCall(method: "GET" | "POST" | "DELETE", body?: WebSignIn): Promise<WebSession> {
  let response: Response;
  try {
    response = await fetch("/api/session", {
      method,
      credentials: "same-origin",
      headers: body ? { "content-type": "application/json", accept: "application/json" } : { accept: "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw toApiError(e);
  }
  const json: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const err = (json as { error?: unknown } | null)?.error;
    throw isApiError(err) ? err : { code: "internal", message: `HTTP ${response.status}` };
  }
  return json as WebSession;
}

/** The browser's session with `eio serve` (signing in with the user's own database login). */
export const webSession = {
  get: () => sessionCall("GET"),
  signIn: (input: WebSignIn) => sessionCall("POST", input),
  signOut: () => sessionCall("DELETE"),
};

export type { ApiError } from "./bindings.gen";
export { toApiError } from "./transport";
