import { makeApi } from "./bindings.gen";
import { httpTransport, inDesktop, tauriTransport } from "./transport";

/** The typed backend, over whichever transport this page runs on. */
export const api = makeApi(inDesktop() ? tauriTransport : httpTransport());
export type { ApiError } from "./bindings.gen";
export { toApiError } from "./transport";
