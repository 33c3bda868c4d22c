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
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO } from "../harness.mjs";
import { APP, DRIVER, EIO, NATIVE_DRIVER, psql, serveUi, startDriver, stopDriver, UI, windowMemory } from "./window.mjs";

const ARTIFACTS = join(REPO, "tests/ui/artifacts");

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
  ({ driver, wd } = await startDriver(base));
});

after(async () => {
  await stopDriver({ driver, wd });
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
 * WebKit's web and network processes), on an empty estate (tests/ui/bench/first-data.mjs
 * measures it with 10k VMs). */
function reportMemory() {
  const { app, webkit, pss } = windowMemory();
  console.log(`desktop RSS: eio-desktop ${app.toFixed(0)} MiB + WebKit ${webkit.toFixed(0)} MiB; PSS ${pss.toFixed(0)} MiB`);
}
