import { invoke } from "@tauri-apps/api/core";
import { makeApi, makeDesktop } from "./bindings.gen";
import { httpTransport, inDesktop, tauriTransport, toApiError } from "./transport";

/** The typed backend, over whichever transport this page runs on. */
export const api = makeApi(inDesktop() ? tauriTransport : httpTransport());

/** Desktop-only commands (sign-in); null in a browser. */
export const desktop = inDesktop()
  ? makeDesktop(async <T,>(command: string, args: Record<string, unknown>): Promise<T> => {
      try {
        return await invoke<T>(command, args);
      } catch (e) {
        throw toApiError(e);
      }
    })
  : null;

export type { ApiError } from "./bindings.gen";
export { toApiError } from "./transport";
