// The real desktop window, end to end: tauri-driver (WebDriver) drives the debug build of
// the root package `eio-desktop` through Debian's WebKitWebDriver, under a virtual display
// and a private D-Bus session:
//   xvfb-run -a dbus-run-session -- node --test tests/ui/desktop/
// A debug build loads its UI from the dev address in tauri.conf.json (127.0.0.1:5173), so
// this test serves the built `ui/dist` there. The app starts with a shared database in its
// config file and no remembered password: the sign-in page opens with the reason, the user
// types their password, and the dashboard appears. Elements are polled for: the WebDriver
// session opens before React renders.
//
// Environment: DATABASE_URL (a superuser on the test PostgreSQL), EIO_DESKTOP_BIN (default
// <repo>/target/debug/eio-desktop), EIO_BIN (default <repo>/target/debug/eio), EIO_UI_DIST
// (default <repo>/ui/dist), TAURI_DRIVER (default <repo>/target/peers/cargo-bin/bin/tauri-driver).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, test } from "node:test";
import { REPO } from "../harness.mjs";

const ARTIFACTS = join(REPO, "tests/ui/artifacts");

const APP = process.env.EIO_DESKTOP_BIN ?? join(REPO, "target/debug/eio-desktop");
const EIO = process.env.EIO_BIN ?? join(REPO, "target/debug/eio");
const UI = process.env.EIO_UI_DIST ?? join(REPO, "ui/dist");
const DRIVER = process.env.TAURI_DRIVER ?? join(REPO, "target/peers/cargo-bin/bin/tauri-driver");
const NATIVE_DRIVER = "/usr/bin/WebKitWebDriver";
/** `build.devUrl` in tauri.conf.json: where a debug build looks for its UI. */
const DEV_URL = new URL(JSON.parse(readFileSync(join(REPO, "tauri.conf.json"), "utf8")).build.devUrl);

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2" };

/** The built UI at the dev address (what `vite` would serve in development). */
function serveUi() {
  const server = createHttpServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    let file = join(UI, path);
    if (!file.startsWith(UI) || !existsSync(file) || statSync(file).isDirectory()) file = join(UI, "index.html");
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((res, rej) => {
    server.once("error", (e) => rej(new Error(`cannot serve the UI at ${DEV_URL.origin} (is a dev server running?): ${e.message}`)));
    server.listen(Number(DEV_URL.port), DEV_URL.hostname, () => res(server));
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
  /** Poll until the element matching `css` shows text matching `re`; returns that text. */
  async waitForText(css, re, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // The page's own innerText (WebKitWebDriver's element text is empty for some elements).
      const text = await this.call("POST", `/session/${this.session}/execute/sync`, {
        script: "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
        args: [css],
      });
      if (text !== null && re.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`${css} never showed ${re} (last: ${JSON.stringify(text)})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  click(el) {
    return this.call("POST", `/session/${this.session}/element/${el}/click`, {});
  }
  clear(el) {
    return this.call("POST", `/session/${this.session}/element/${el}/clear`, {});
  }
  type(el, text) {
    return this.call("POST", `/session/${this.session}/element/${el}/value`, { text });
  }
  screenshot() {
    return this.call("GET", `/session/${this.session}/screenshot`);
  }
  async stop() {
    if (this.session) await this.call("DELETE", `/session/${this.session}`).catch(() => undefined);
  }
}

const psql = (url, sql) => execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" });

let driver;
let wd;
let ui;
let dataDir;
let db;

before(async () => {
  for (const [path, how] of [
    [APP, "cargo build -p eio-desktop"],
    [EIO, "cargo build -p eio-server"],
    [join(UI, "index.html"), "cd ui && npm run build"],
    [DRIVER, "run scripts/peers/tauri-driver"],
    [NATIVE_DRIVER, "run scripts/peers/tauri-driver (Debian webkit2gtk-driver)"],
  ]) {
    assert.ok(existsSync(path), `${path} is missing: ${how}`);
  }
  assert.ok(process.env.DISPLAY, "no display: run under xvfb-run -a dbus-run-session");

  // A fresh database and a real login in it (an operator), as a team's DBA would set up.
  const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const tag = randomBytes(4).toString("hex");
  const url = new URL(adminUrl);
  url.pathname = `/eio_desk_${tag}`;
  db = { adminUrl, name: `eio_desk_${tag}`, login: `desk_ann_${tag}`, password: `pw-${randomBytes(8).toString("hex")}` };
  psql(adminUrl, `CREATE DATABASE ${db.name}`);
  dataDir = mkdtempSync(join(tmpdir(), "eio-desktop-"));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EIO_")));
  const base = { ...clean, EIO_DATA_DIR: dataDir, EIO_CONFIG: join(dataDir, "config.toml") };
  execFileSync(EIO, ["migrate"], { env: { ...base, EIO_DATABASE_URL: url.toString() }, stdio: "pipe" });
  psql(url.toString(), `CREATE ROLE ${db.login} LOGIN PASSWORD '${db.password}' IN ROLE eio_operator`);
  psql(
    url.toString(),
    `INSERT INTO users (email, display_name, role, login_role) VALUES ('ann@example.test', 'Ann', 'operator', '${db.login}')`,
  );
  // The app remembers an address whose login doesn't exist (yet): it can't resume on its own
  // (whatever pg_hba.conf trusts) and opens on the sign-in page, saying why.
  const appUrl = new URL(url);
  appUrl.username = "nobody_signed_in_yet";
  writeFileSync(base.EIO_CONFIG, `[database]\nurl = "${appUrl.toString()}"\n`);

  ui = await serveUi();
  const port = await freePort();
  const native = await freePort();
  driver = spawn(DRIVER, ["--port", String(port), "--native-port", String(native), "--native-driver", NATIVE_DRIVER], {
    stdio: ["ignore", "inherit", "inherit"],
    env: base,
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
  if (driver && driver.exitCode === null) {
    await new Promise((res) => {
      driver.once("exit", res);
      driver.kill("SIGTERM");
    });
  }
  await new Promise((res) => (ui ? ui.close(res) : res()));
  if (db) {
    try {
      psql(db.adminUrl, `DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
      psql(db.adminUrl, `DROP ROLE IF EXISTS ${db.login}`);
    } catch (e) {
      console.error(`cleanup: ${e.message}`);
    }
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("the real window signs in to a shared database and shows the dashboard", async () => {
  await wd.start(APP);
  try {
    await signInAndLook();
  } catch (e) {
    // What the window showed, for whoever reads the failure (tests/ui/artifacts is ignored by git).
    mkdirSync(ARTIFACTS, { recursive: true });
    await wd.screenshot().then((png) => writeFileSync(join(ARTIFACTS, "desktop-failure.png"), Buffer.from(png, "base64")), () => undefined);
    throw e;
  }
});

async function signInAndLook() {
  // The sign-in page, with the address from the config file and why it didn't connect.
  await wd.waitFor('[data-testid="sign-in"]');
  await wd.waitForText('[data-testid="sign-in-error"]', /nobody_signed_in_yet/);
  const login = await wd.waitFor('[data-testid="desktop-login"]');
  await wd.clear(login);
  await wd.type(login, db.login);
  await wd.type(await wd.waitFor('[data-testid="desktop-password"]'), db.password);
  await wd.click(await wd.waitFor('[data-testid="connect"]'));

  await wd.waitForText('[data-testid="dashboard"]', /Dashboard/);
  assert.equal(await wd.waitForText('[data-testid="stat-vms-value"]', /\S/), "0");
  await wd.waitForText('[data-testid="signed-in-as"]', /ann@example\.test/);
  reportMemory();
  // For the record, not for the README (WebKitWebDriver's screenshot leaves out the fixed
  // header and navbar): tests/ui/artifacts, ignored by git.
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, "desktop-dashboard.png"), Buffer.from(await wd.screenshot(), "base64"));

  await wd.click(await wd.waitFor('[data-testid="nav-jobs"]'));
  await wd.waitFor('[data-testid="jobs"]');
}

/** A number for the record, not an assertion: the window's resident memory (the app and
 * WebKit's web and network processes), on an empty estate (bench_pages covers 10k VMs). */
function reportMemory() {
  const rows = execFileSync("ps", ["-eo", "rss=,comm="], { encoding: "utf8" }).trim().split("\n");
  const kib = (re) => rows.filter((r) => re.test(r)).reduce((sum, r) => sum + Number(r.trim().split(/\s+/)[0]), 0);
  const app = kib(/ eio-desktop$/);
  const webkit = kib(/ WebKit(WebProces|NetworkPr)/);
  console.log(`desktop RSS: eio-desktop ${(app / 1024).toFixed(0)} MiB + WebKit ${(webkit / 1024).toFixed(0)} MiB`);
}
