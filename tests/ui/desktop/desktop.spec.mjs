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
import { rmSync } from "node:fs";
import { after, before, test } from "node:test";
import { signIn, tid } from "./steps.mjs";
import { APP, EIO, missingWindowTools, psql, serveUi, startDriver, stopDriver, windowConfig, windowMemory } from "./window.mjs";

let driver;
let wd;
let ui;
let dataDir;
let db;

before(async () => {
  const missing = missingWindowTools();
  assert.deepEqual(missing, [], missing.join("\n"));

  // A fresh database and a real login in it (an operator), as a team's DBA would set up.
  const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const tag = randomBytes(4).toString("hex");
  const url = new URL(adminUrl);
  url.pathname = `/eio_desk_${tag}`;
  db = { adminUrl, name: `eio_desk_${tag}`, login: `desk_ann_${tag}`, password: `pw-${randomBytes(8).toString("hex")}` };
  psql(adminUrl, `CREATE DATABASE ${db.name}`);
  // The app remembers an address whose login doesn't exist (yet): it can't resume on its own
  // (whatever pg_hba.conf trusts) and opens on the sign-in page, saying why.
  let base;
  ({ dataDir, env: base } = windowConfig(url.toString()));
  execFileSync(EIO, ["migrate"], { env: { ...base, EIO_DATABASE_URL: url.toString() }, stdio: "pipe" });
  psql(url.toString(), `CREATE ROLE ${db.login} LOGIN PASSWORD '${db.password}' IN ROLE eio_operator`);
  psql(
    url.toString(),
    `INSERT INTO users (email, display_name, role, login_role) VALUES ('ann@example.test', 'Ann', 'operator', '${db.login}')`,
  );

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
    await wd.saveScreenshot("desktop-failure");
    throw e;
  }
});

async function signInAndLook() {
  // The sign-in page, with the address from the config file and why it didn't connect; the
  // user types their login and password, and the dashboard says who they are.
  await signIn(wd, { login: db.login, password: db.password, email: "ann@example.test" });
  assert.equal(await wd.waitForText(tid("stat-vms-value"), /\S/), "0");
  reportMemory();
  // For the record, not for the README (WebKitWebDriver's screenshot leaves out the fixed
  // header and navbar): tests/ui/artifacts, ignored by git.
  assert.ok(await wd.saveScreenshot("desktop-dashboard"), "the dashboard's screenshot was saved");

  await wd.press(tid("nav-jobs"));
  await wd.element(tid("jobs"));
}

/** A number for the record, not an assertion: the window's resident memory (the app and
 * WebKit's web and network processes), on an empty estate (tests/ui/bench/first-data.mjs
 * measures it with 10k VMs). */
function reportMemory() {
  const { app, webkit, pss } = windowMemory();
  console.log(`desktop RSS: eio-desktop ${app.toFixed(0)} MiB + WebKit ${webkit.toFixed(0)} MiB; PSS ${pss.toFixed(0)} MiB`);
}
