// The real desktop window, end to end: tauri-driver (WebDriver) drives the built app
// (UI embedded) through Debian's WebKitWebDriver. Run under a virtual display and a
// private D-Bus session:
//   xvfb-run -a dbus-run-session -- node --test tests/ui/desktop/
// The app starts on the embedded default in a fresh data directory, signs in (this
// computer), and shows the dashboard. Elements are polled for: the WebDriver session
// opens before React renders.
//
// Environment: EIO_DESKTOP_BIN (default <repo>/target/release/eio-desktop),
// TAURI_DRIVER (default <repo>/target/peers/cargo-bin/bin/tauri-driver).
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO, SCREENSHOTS } from "../harness.mjs";

const APP = process.env.EIO_DESKTOP_BIN ?? join(REPO, "target/release/eio-desktop");
const DRIVER = process.env.TAURI_DRIVER ?? join(REPO, "target/peers/cargo-bin/bin/tauri-driver");

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

class WebDriver {
  constructor(base) {
    this.base = base;
  }
  async call(method, path, body) {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json();
    if (!r.ok || json.value?.error) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
    return json.value;
  }
  async start(application) {
    const v = await this.call("POST", "/session", {
      capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application } } },
    });
    this.session = v.sessionId;
  }
  /** Poll until `css` matches an element (the window renders after the session opens). */
  async waitFor(css, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.call("POST", `/session/${this.session}/elements`, { using: "css selector", value: css });
      if (found.length > 0) return Object.values(found[0])[0];
      if (Date.now() > deadline) throw new Error(`no element ${css} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  text(el) {
    return this.call("GET", `/session/${this.session}/element/${el}/text`);
  }
  click(el) {
    return this.call("POST", `/session/${this.session}/element/${el}/click`, {});
  }
  screenshot() {
    return this.call("GET", `/session/${this.session}/screenshot`);
  }
  async stop() {
    if (this.session) await this.call("DELETE", `/session/${this.session}`).catch(() => undefined);
  }
}

let driver;
let wd;
let dataDir;

before(async () => {
  assert.ok(existsSync(APP), `${APP} is missing: cd ui && npm run tauri -- build --no-bundle`);
  assert.ok(existsSync(DRIVER), `${DRIVER} is missing: run scripts/peers/tauri-driver`);
  dataDir = mkdtempSync(join(tmpdir(), "eio-desktop-"));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const native = await freePort();
  // The app inherits the driver's environment: a fresh data directory, the embedded default.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EIO_")));
  driver = spawn(DRIVER, ["--port", String(port), "--native-port", String(native), "--native-driver", "/usr/bin/WebKitWebDriver"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, EIO_DATA_DIR: dataDir, EIO_CONFIG: join(dataDir, "none.toml") },
  });
  wd = new WebDriver(`http://127.0.0.1:${port}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await wd.call("GET", "/status");
      break;
    } catch {
      if (Date.now() > deadline) throw new Error("tauri-driver did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

after(async () => {
  await wd?.stop();
  driver?.kill("SIGTERM");
  if (dataDir) {
    try {
      execFileSync(join(REPO, "target/release/eio"), ["embedded", "stop"], {
        env: { ...process.env, EIO_DATA_DIR: dataDir, EIO_CONFIG: join(dataDir, "none.toml") },
      });
    } catch {
      // No CLI built next to the app: the cluster stops with the machine.
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the real window opens on the embedded default and shows the dashboard", async () => {
  await wd.start(APP);
  const dashboard = await wd.waitFor('[data-testid="dashboard"]');
  assert.match(await wd.text(dashboard), /Dashboard/);
  const vms = await wd.waitFor('[data-testid="stat-vms-value"]');
  assert.equal(await wd.text(vms), "0");
  const nav = await wd.waitFor('[data-testid="nav-jobs"]');
  await wd.click(nav);
  await wd.waitFor('[data-testid="jobs"]');
  const png = await wd.screenshot();
  const { writeFileSync, mkdirSync } = await import("node:fs");
  mkdirSync(SCREENSHOTS, { recursive: true });
  writeFileSync(join(SCREENSHOTS, "desktop-jobs.png"), Buffer.from(png, "base64"));
});
