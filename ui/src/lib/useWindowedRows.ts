// A long list fetched a window at a time as a virtualized table scrolls: the table says
// which rows are in view (`onRange`), the hook asks the backend for the windows it lacks,
// and a change of query (a new `fetchWindow`) or a live event starts again from the top.
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

  const fetchPage = useCallback(
    (p: number, gen: number) => {
      if (inflight.current.has(p)) return;
      inflight.current.add(p);
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
        .finally(() => inflight.current.delete(p));
    },
    [fetchWindow],
  );

  const reset = useCallback(() => {
    generation.current += 1;
    pages.current = new Map();
    inflight.current = new Set();
    fetchPage(0, generation.current);
  }, [fetchPage]);
  useEffect(reset, [reset]);
  useLive(live, reset);

  const onRange = useCallback(
    (start: number, end: number) => {
      for (let p = Math.floor(start / WINDOW); p <= Math.floor(end / WINDOW); p++) {
        if (!pages.current.has(p)) fetchPage(p, generation.current);
      }
    },
    [fetchPage],
  );
  const row = useCallback((i: number) => pages.current.get(Math.floor(i / WINDOW))?.[i % WINDOW], []);
  return { total, facets, error, row, onRange, reload: reset };
}
