// A page model from one backend call: loading, the model, or the backend's error as a
// sentence; reloaded on the live events that concern it (coalesced so a burst of events
// is one reload), keeping the old model on screen while the new one loads.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiError, LiveKind } from "../api/bindings.gen";
import { toApiError } from "../api/transport";
import { useLive } from "./live";

export type PageState<T> = {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
};

export function usePageModel<T>(load: () => Promise<T>, deps: readonly unknown[], live: readonly LiveKind[] = []): PageState<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  const reload = useCallback(() => {
    const mine = ++seq.current;
    setLoading(true);
    loader
      .current()
      .then((d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if (mine === seq.current) setError(toApiError(e));
      })
      .finally(() => {
        if (mine === seq.current) setLoading(false);
      });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(reload, [reload]);

  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  useLive(live, () => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      reload();
    }, 250);
  });
  useEffect(
    () => () => {
      if (pending.current) clearTimeout(pending.current);
    },
    [],
  );

  return { data, error, loading, reload };
}
