// Words and colours for what the backend reports, in one place.

/** "3 min ago", "in 2 h", or the date for anything older than a week. */
export function ago(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "never";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const s = Math.round((now.getTime() - t.getTime()) / 1000);
  const abs = Math.abs(s);
  const suffix = (v: string) => (s >= 0 ? `${v} ago` : `in ${v}`);
  if (abs < 45) return s >= 0 ? "just now" : "in a moment";
  if (abs < 3600) return suffix(`${Math.round(abs / 60)} min`);
  if (abs < 86400) return suffix(`${Math.round(abs / 3600)} h`);
  if (abs < 7 * 86400) return suffix(`${Math.round(abs / 86400)} d`);
  return t.toISOString().slice(0, 10);
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleString();
}

/** snake_case → "Sentence case". */
export function words(v: string | null | undefined): string {
  if (!v) return "–";
  const s = v.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function memory(mb: number | null | undefined): string {
  if (mb === null || mb === undefined) return "–";
  return mb >= 1024 ? `${(mb / 1024).toFixed(mb % 1024 === 0 ? 0 : 1)} GB` : `${mb} MB`;
}

export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  return `${Math.round(v * 100)} %`;
}

/** A Mantine colour for a status word. */
export function statusColor(status: string | null | undefined): string {
  switch (status) {
    case "succeeded":
    case "powered_on":
    case "on":
    case "ok":
    case "compliant":
    case "connected":
    case "active":
      return "green";
    case "running":
    case "pending":
    case "scheduled":
      return "blue";
    case "awaiting_approval":
    case "paused":
    case "partial":
    case "warning":
    case "old":
    case "upgrade":
    case "downgrade":
    case "ambiguous":
    case "suspended":
    case "standby":
      return "yellow";
    case "failed":
    case "critical":
    case "error":
    case "not_responding":
    case "disconnected":
    case "rejected":
      return "red";
    case "cancelled":
    case "powered_off":
    case "off":
    case "not_running":
    case "not_installed":
      return "gray";
    default:
      return "gray";
  }
}

/** Confidence 0–1 as words an operator trusts or doubts. */
export function confidenceWord(c: number | null | undefined): string {
  if (c === null || c === undefined) return "unknown";
  if (c >= 0.85) return "high";
  if (c >= 0.6) return "medium";
  return "low";
}
