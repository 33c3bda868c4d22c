import { describe, expect, it } from "vitest";
import { ago, confidenceWord, memory, statusColor, words } from "./format";

describe("format", () => {
  const now = new Date("2025-01-10T12:00:00Z");
  it("says how long ago", () => {
    expect(ago(null, now)).toBe("never");
    expect(ago("2025-01-10T11:59:50Z", now)).toBe("just now");
    expect(ago("2025-01-10T11:30:00Z", now)).toBe("30 min ago");
    expect(ago("2025-01-10T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2025-01-08T12:00:00Z", now)).toBe("2 d ago");
    expect(ago("2024-12-01T12:00:00Z", now)).toBe("2024-12-01");
  });
  it("turns codes into words and colours", () => {
    expect(words("awaiting_approval")).toBe("Awaiting approval");
    expect(statusColor("failed")).toBe("red");
    expect(statusColor("paused")).toBe("yellow");
    expect(memory(8192)).toBe("8 GB");
    expect(memory(512)).toBe("512 MB");
    expect(confidenceWord(0.9)).toBe("high");
    expect(confidenceWord(0.4)).toBe("low");
  });
});
