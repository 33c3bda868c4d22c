// Live updates for every page from one subscription: the desktop's Tauri events or the
// browser's event stream (see api/transport.ts). Pages say which kinds concern them and
// reload their page model when one arrives.
import { createContext, useContext, useEffect, useRef, type ReactNode } from "react";
import type { LiveEvent, LiveKind } from "../api/bindings.gen";
import type { LiveSubscribe } from "../api/transport";

type Listener = (e: LiveEvent) => void;

class LiveHub {
  private listeners = new Set<Listener>();
  emit(e: LiveEvent) {
    for (const l of [...this.listeners]) l(e);
  }
  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

const HubContext = createContext<LiveHub | null>(null);

export function LiveProvider(props: { subscribe: LiveSubscribe; children: ReactNode }) {
  const hub = useRef(new LiveHub()).current;
  const { subscribe } = props;
  useEffect(() => subscribe((e) => hub.emit(e)), [subscribe, hub]);
  return <HubContext.Provider value={hub}>{props.children}</HubContext.Provider>;
}

/** Does `e` concern a page listening for `kinds`? A resync concerns everyone. */
export function concerns(e: LiveEvent, kinds: readonly LiveKind[]): boolean {
  return e.kind === "resync" || kinds.includes(e.kind);
}

/** Call `handler` for live events of `kinds` (and resyncs). */
export function useLive(kinds: readonly LiveKind[], handler: (e: LiveEvent) => void) {
  const hub = useContext(HubContext);
  const latest = useRef(handler);
  latest.current = handler;
  const key = kinds.join(",");
  useEffect(() => {
    if (!hub) return;
    const wanted = key.split(",") as LiveKind[];
    return hub.on((e) => {
      if (concerns(e, wanted)) latest.current(e);
    });
  }, [hub, key]);
}
