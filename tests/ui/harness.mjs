// The stack the UI tests run against, built fresh for each run and torn down after:
//   a new PostgreSQL database (migrated by `eio migrate`), real logins (alice: operator,
//   bob: approver, a worker login for the server), a worker key, the lab simulators
//   (src-tauri/server/examples/e2e_lab.rs: a vCenter and iDRACs + OME whose service tags
//   match its hosts), the lab registered as sources, and `eio serve` with the built UI.
//
// Environment:
//   DATABASE_URL   a superuser on the test PostgreSQL (postgres://postgres@127.0.0.1:5432/postgres)
//   EIO_BIN        the `eio` binary            (default: <repo>/target/debug/eio)
//   EIO_LAB_BIN    the e2e_lab example binary  (default: <repo>/target/debug/examples/e2e_lab)
//   EIO_UI_DIST    the built UI                (default: <repo>/ui/dist)
//   CHROMIUM       the browser                 (default: /usr/bin/chromium)
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/**
 * Where the specs' pictures go. A test run keeps them under tests/ui/artifacts (ignored by git),
 * so `./scripts/test` leaves the checkout as it found it; `scripts/screenshots` points this at
 * ui/screenshots to refresh the README's pictures on purpose.
 */
export const SCREENSHOTS = resolve(process.env.EIO_SCREENSHOTS ?? join(REPO, "tests/ui/artifacts/screenshots"));
const EIO = process.env.EIO_BIN ?? join(REPO, "target/debug/eio");
const LAB = process.env.EIO_LAB_BIN ?? join(REPO, "target/debug/examples/e2e_lab");
const UI = process.env.EIO_UI_DIST ?? join(REPO, "ui/dist");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

function need(path, how) {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${how}`);
}

function eioEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EIO_")));
  return { ...env, ...extra };
}

/** Run `eio ARGS` to completion; throws with its output when it fails. */
function eio(args, env, input) {
  try {
    return execFileSync(EIO, args, { env: eioEnv(env), input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`eio ${args.join(" ")} failed:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

function psql(url, sql) {
  return execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" });
}

/** Start a process and resolve with its first stdout line matching `match`. */
function startProcess(cmd, args, env, match, timeoutMs = 120_000) {
  const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => {
    log += d.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      // Never leave it behind: a live child keeps the test runner waiting forever.
      child.kill("SIGKILL");
      reject(new Error(`${cmd} did not start within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = match(line);
      if (m !== undefined) {
        clearTimeout(timer);
        resolvePromise({ child, value: m, log: () => log });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready:\n${log}`));
    });
  });
}

function stopProcess(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((res) => {
    // SIGTERM, and SIGKILL if it hasn't gone after 30 s (a stuck child would hang the run).
    const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", () => {
      clearTimeout(kill);
      res();
    });
    child.kill("SIGTERM");
  });
}

/** `blockHost`: the lab pins the first VM of that host (its evacuation is blocked). */
/** `eio serve` on a fresh database with the lab running. `empty`: nothing else but one admin
 *  (carol) and a trusted worker key — an operator's first day; otherwise also an operator
 *  (alice), an approver (bob), a planned prefix, and the lab's sources added by the CLI. */
export async function startStack({ hosts = 4, vmsPerHost = 5, blockHost, empty = false } = {}) {
  need(EIO, "cargo build -p eio-server (or set EIO_BIN)");
  need(LAB, "cargo build -p eio-server --example e2e_lab (or set EIO_LAB_BIN)");
  need(join(UI, "index.html"), "cd ui && npm run build (or set EIO_UI_DIST)");
  const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const tag = randomBytes(4).toString("hex");
  const dbName = `eio_e2e_${tag}`;
  psql(adminUrl, `CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;
  const work = mkdtempSync(join(tmpdir(), "eio-e2e-"));
  const base = { EIO_DATA_DIR: work, EIO_CONFIG: join(work, "none.toml") };
  const admin = { ...base, EIO_DATABASE_URL: dbUrl.toString() };
  const roles = [];
  const stack = { dbName, adminUrl, work, roles, children: [] };
  try {
    eio(["migrate"], admin);
    const login = (name, group, role, caps) => {
      const password = `pw-${randomBytes(8).toString("hex")}`;
      const loginName = `e2e_${name}_${tag}`;
      psql(dbUrl.toString(), `CREATE ROLE ${loginName} LOGIN PASSWORD '${password}' IN ROLE ${group}`);
      roles.push(loginName);
      if (role) {
        psql(
          dbUrl.toString(),
          `INSERT INTO users (email, display_name, role, login_role, capabilities)
           VALUES ('${name}@example.test', '${name}', '${role}', '${loginName}', ARRAY[${caps.map((c) => `'${c}'`).join(",")}]::text[])`,
        );
      }
      return { login: loginName, password, email: `${name}@example.test` };
    };
    const caps = ["maintenance_mode", "firmware_update", "power"];
    stack.tag = tag;
    if (!empty) {
      stack.alice = login("alice", "eio_operator", "operator", caps);
      stack.bob = login("bob", "eio_approver", "approver", caps);
    }
    stack.carol = login("carol", "eio_admin", "admin", caps);
    const worker = login("worker", "eio_worker", null, []);

    const key = join(work, "worker.age");
    eio(["identity", "init-worker-key", "--key-file", key, "--label", `e2e-${tag}`], admin);

    // A planned prefix where the lab's VMs are observed (their guest IPs are 10.100.x.y).
    if (!empty) {
      psql(dbUrl.toString(), `INSERT INTO prefixes (routing_domain_id, cidr, description) VALUES (default_routing_domain_id(), '10.100.0.0/24', 'lab VMs')`);
    }

    const labArgs = ["--hosts", String(hosts), "--vms-per-host", String(vmsPerHost)];
    if (blockHost !== undefined) labArgs.push("--block-host", String(blockHost));
    const lab = await startProcess(LAB, labArgs, eioEnv({}), (line) => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    });
    stack.children.push(lab.child);
    stack.lab = lab.value;
    const l = stack.lab;
    if (!empty) addLabSources(l);
    function addLabSources(l) {
      eio(
        ["source", "add", "vcenter", "--name", "vc-lab", "--url", l.vcenter.url, "--username", l.vcenter.username, "--thumbprint", l.vcenter.thumbprint, "--password-stdin"],
        admin,
        `${l.vcenter.password}\n`,
      );
      const csv = join(work, "idracs.csv");
      writeFileSync(csv, `name,url,thumbprint\n${l.idracs.map((i) => `${i.name},${i.url},${i.thumbprint}`).join("\n")}\n`);
      eio(["source", "add", "idrac", "--csv", csv, "--username", l.dell_username, "--identity-name", "idrac-fleet", "--password-stdin"], admin, `${l.dell_password}\n`);
      if (l.ome) {
        eio(["source", "add", "ome", "--name", "ome-lab", "--url", l.ome.url, "--thumbprint", l.ome.thumbprint, "--identity", "idrac-fleet"], admin);
      }
    }

    const serverUrl = new URL(dbUrl);
    serverUrl.username = worker.login;
    serverUrl.password = worker.password;
    const serve = await startProcess(
      EIO,
      ["serve", "--bind", "127.0.0.1:0", "--ui-dir", UI, "--key-file", key],
      eioEnv({ ...base, EIO_DATABASE_URL: serverUrl.toString(), EIO_LOG: process.env.EIO_LOG ?? "info" }),
      (line) => (line.startsWith("EIO serves ") ? line.slice("EIO serves ".length).trim() : undefined),
    );
    stack.children.push(serve.child);
    stack.base = serve.value;
    stack.serverLog = serve.log;
    return stack;
  } catch (e) {
    await stopStack(stack);
    throw e;
  }
}

/** Stop the lab simulators only (the server stays): its sources become unreachable. */
export async function stopLab(stack) {
  await stopProcess(stack.children[0]);
}

export async function stopStack(stack) {
  for (const c of [...(stack.children ?? [])].reverse()) await stopProcess(c);
  try {
    psql(stack.adminUrl, `DROP DATABASE IF EXISTS ${stack.dbName} WITH (FORCE)`);
    for (const r of stack.roles ?? []) psql(stack.adminUrl, `DROP ROLE IF EXISTS ${r}`);
  } catch (e) {
    console.error(`cleanup: ${e.message}`);
  }
  if (stack.work) rmSync(stack.work, { recursive: true, force: true });
}

/** Debian's chromium, headless, with a fresh profile (DESIGN.md §7). */
export async function launchBrowser() {
  need(CHROMIUM, "apt-get install chromium (or set CHROMIUM)");
  const profile = mkdtempSync(join(tmpdir(), "eio-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1440, height: 900 },
    colorScheme: "light",
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function signIn(page, base, who) {
  await page.goto(base);
  await page.getByTestId("login").fill(who.login);
  await page.getByTestId("password").fill(who.password);
  await page.getByTestId("sign-in-submit").click();
  await page.getByTestId("dashboard").waitFor();
}

export async function signOut(page) {
  await page.getByTestId("account-menu").click();
  await page.getByTestId("sign-out").click();
  await page.getByTestId("web-sign-in").waitFor();
}

/** A README picture of what the page shows — without the toasts of the steps before it. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const style = ".mantine-Notifications-root, .m_b37d9ac7 { display: none !important; }";
  // Transitions finished (a button caught mid-way between loading and idle is not the page).
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false, style, animations: "disabled" });
}
