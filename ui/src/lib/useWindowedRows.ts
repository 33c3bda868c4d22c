// A long list fetched a window at a time as a virtualized table scrolls: the table says
// which rows are in view (`onRange`), the hook asks the backend for the windows it lacks.
// A change of query (a new `fetchWindow`) starts again from the top; a live event (a burst
// of them is one, 250 ms after the first) or a reload fetches again the windows in view.
// The backend's facets (counts over the whole list, sent with the first window) are kept
// while later windows arrive without them.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiError, LiveKind } from "../api/bindings.gen";
import { toApiError } from "../api/transport";
import { useLive } from "./live";

export const WINDOW = 200;

/** One window as the backend returns it: its rows, the list's total, and maybe facets. */
export type Windowed<T, F> = { rows: T[]; total: number; facets: F | null | undefined };

export function useWindowedRows<T, F>(
  fetchWindow: (offset: number, limit: number) => Promise<Windowed<T, F>>,
  live: readonly LiveKind[],
) {
  const [total, setTotal] = useState<number | null>(null);
  const [facets, setFacets] = useState<F | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [, setVersion] = useState(0);
  const pages = useRef(new Map<number, T[]>());
  const inflight = useRef(new Set<number>());
  const generation = useRef(0);

  // The rows the table last showed, so a reload fetches them again, not only the first.
  const inView = useRef<[number, number]>([0, 0]);
  const liveTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const fetchPage = useCallback(
    (p: number, gen: number) => {
      const inflightNow = inflight.current;
      if (inflightNow.has(p)) return;
      inflightNow.add(p);
      fetchWindow(p * WINDOW, WINDOW)
        .then((w) => {
          if (gen !== generation.current) return;
          pages.current.set(p, w.rows);
          setTotal(w.total);
          if (w.facets) setFacets(w.facets);
          setError(null);
          setVersion((v) => v + 1);
        })
        .catch((e: unknown) => {
          if (gen === generation.current) setError(toApiError(e));
        })
        .finally(() => inflightNow.delete(p));
    },
    [fetchWindow],
  );

  /** Fetch windows `from`..`to` again; answers to earlier requests are dropped. */
  const refetch = useCallback(
    (from: number, to: number) => {
      generation.current += 1;
      inflight.current = new Set();
      // The old rows stay on screen until their windows arrive again.
      for (let p = from; p <= to; p++) fetchPage(p, generation.current);
    },
    [fetchPage],
  );
  // A new query keeps no rows of the old one and fetches the windows in view (the table
  // reports its range, with the new query, before this runs: child effects run first).
  useEffect(() => {
    pages.current = new Map();
    const [start, end] = inView.current;
    refetch(Math.floor(start / WINDOW), Math.floor(end / WINDOW));
  }, [refetch]);
  const reload = useCallback(() => {
    const [start, end] = inView.current;
    pages.current = new Map([...pages.current].filter(([p]) => p >= Math.floor(start / WINDOW) && p <= Math.floor(end / WINDOW)));
    refetch(Math.floor(start / WINDOW), Math.floor(end / WINDOW));
  }, [refetch]);
  useLive(live, () => {
    if (liveTimer.current) return;
    liveTimer.current = setTimeout(() => {
      liveTimer.current = null;
      reload();
    }, 250);
  });
  useEffect(
    () => () => {
      if (liveTimer.current) clearTimeout(liveTimer.current);
    },
    [],
  );

  const onRange = useCallback(
    (start: number, end: number) => {
      inView.current = [start, end];
      for (let p = Math.floor(start / WINDOW); p <= Math.floor(end / WINDOW); p++) {
        if (!pages.current.has(p)) fetchPage(p, generation.current);
      }
    },
    [fetchPage],
  );
  const row = useCallback((i: number) => pages.current.get(Math.floor(i / WINDOW))?.[i % WINDOW], []);
  return { total, facets, error, row, onRange, reload };
}
