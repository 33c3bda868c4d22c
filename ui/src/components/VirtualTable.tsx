// A virtualized table: only the rows in view exist in the DOM, so 100k rows scroll as
// smoothly as 100. Rows may be missing (not loaded yet): they render as placeholders and
// `onRange` says which rows are in view so the page can fetch that window.
// Keyboard: the table is one tab stop; ↑/↓/PageUp/PageDown/Home/End move the active row,
// Enter opens it.
import { Box, Skeleton, Text } from "@mantine/core";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import classes from "./VirtualTable.module.css";

export type Column<T> = {
  key: string;
  header: string;
  /** CSS grid track, e.g. "2fr" or "120px". */
  width: string;
  render: (row: T) => ReactNode;
};

export function VirtualTable<T>(props: {
  columns: Column<T>[];
  count: number;
  row: (index: number) => T | undefined;
  rowKey: (row: T, index: number) => string;
  onOpen?: (row: T) => void;
  onRange?: (start: number, end: number) => void;
  height?: number | string;
  label: string;
  testId?: string;
}) {
  const { count, onRange } = props;
  const parent = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const v = useVirtualizer({ count, getScrollElement: () => parent.current, estimateSize: () => 36, overscan: 12 });
  const items = v.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => {
    if (count > 0) onRange?.(first, last);
  }, [first, last, count, onRange]);
  useEffect(() => {
    if (active >= count) setActive(Math.max(0, count - 1));
  }, [count, active]);

  const template = props.columns.map((c) => c.width).join(" ");
  const move = (to: number) => {
    const next = Math.max(0, Math.min(count - 1, to));
    setActive(next);
    v.scrollToIndex(next, { align: "auto" });
  };
  const onKey = (e: KeyboardEvent) => {
    const page = Math.max(1, items.length - 2);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(active + 1),
      ArrowUp: () => move(active - 1),
      PageDown: () => move(active + page),
      PageUp: () => move(active - page),
      Home: () => move(0),
      End: () => move(count - 1),
      Enter: () => {
        const r = props.row(active);
        if (r && props.onOpen) props.onOpen(r);
      },
    };
    const act = keys[e.key];
    if (act) {
      e.preventDefault();
      act();
    }
  };

  return (
    <Box className={classes.table} role="grid" aria-label={props.label} aria-rowcount={count} data-testid={props.testId}>
      <div className={classes.header} role="row" style={{ gridTemplateColumns: template }}>
        {props.columns.map((c) => (
          <div key={c.key} role="columnheader" className={classes.cell}>
            {c.header}
          </div>
        ))}
      </div>
      <div
        ref={parent}
        className={classes.body}
        style={{ height: props.height ?? "calc(100vh - 290px)" }}
        tabIndex={0}
        onKeyDown={onKey}
        aria-activedescendant={count > 0 ? `${props.testId ?? "row"}-${active}` : undefined}
      >
        <div style={{ height: v.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const r = props.row(item.index);
            return (
              <div
                key={item.key}
                id={`${props.testId ?? "row"}-${item.index}`}
                role="row"
                aria-rowindex={item.index + 1}
                aria-selected={item.index === active}
                data-active={item.index === active || undefined}
                data-testid={r ? "row" : "row-loading"}
                className={classes.row}
                style={{ gridTemplateColumns: template, transform: `translateY(${item.start}px)`, height: item.size }}
                onClick={() => {
                  setActive(item.index);
                  if (r && props.onOpen) props.onOpen(r);
                }}
              >
                {r ? (
                  props.columns.map((c) => (
                    <div key={c.key} role="gridcell" className={classes.cell}>
                      {c.render(r)}
                    </div>
                  ))
                ) : (
                  <div className={classes.cell} style={{ gridColumn: "1 / -1" }}>
                    <Skeleton height={12} width="60%" />
                  </div>
                )}
              </div>
            );
          })}
        </div>
      </div>
      <Text size="xs" c="dimmed" px="sm" py={4} className={classes.footer}>
        {count.toLocaleString()} row{count === 1 ? "" : "s"} · ↑↓ to move, Enter to open
      </Text>
    </Box>
  );
}
