// The real desktop window through tauri-driver (WebDriver) and Debian's WebKitWebDriver:
// what the window tests (desktop.spec.mjs, first-day.spec.mjs) and the startup benchmark
// (../bench/first-data.mjs) share. Nothing here asserts; callers decide what a result means.
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { promisify } from "node:util";
import { REPO } from "../harness.mjs";

export const APP = process.env.EIO_DESKTOP_BIN ?? join(REPO, "target/debug/eio-desktop");
export const EIO = process.env.EIO_BIN ?? join(REPO, "target/debug/eio");
export const UI = process.env.EIO_UI_DIST ?? join(REPO, "ui/dist");
export const DRIVER = process.env.TAURI_DRIVER ?? join(REPO, "target/peers/cargo-bin/bin/tauri-driver");
export const NATIVE_DRIVER = "/usr/bin/WebKitWebDriver";
/** Types into the system's own dialogs (a GTK file chooser), which WebDriver can't reach. */
export const XDOTOOL = process.env.XDOTOOL ?? "/usr/bin/xdotool";
export const ARTIFACTS = join(REPO, "tests/ui/artifacts");
/** `build.devUrl` in tauri.conf.json: where a debug build looks for its UI. */
const DEV_URL = new URL(JSON.parse(readFileSync(join(REPO, "tauri.conf.json"), "utf8")).build.devUrl);

export function freePort() {
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
export function serveUi() {
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

/** WebDriver errors that mean "not yet": the page changes between finding and clicking. */
const TRANSIENT = /stale element|element click intercepted|element not interactable|no such element/;

/** In the page: the first element matching a selector (and a pattern over its text) that is
 * rendered (a closing modal's leftovers, closed dropdowns' options and hidden inputs are not).
 * Its text is what it shows, trimmed (WebKit ends some elements' innerText with a newline). */
const FIND_NODE = `const find = (css, source, flags) => {
  const re = source === null ? null : new RegExp(source, flags);
  return [...document.querySelectorAll(css)].find((e) => e.getClientRects().length > 0 && (re === null || re.test(e.innerText.trim()))) ?? null;
};`;
const FIND = `${FIND_NODE} return find(...arguments);`;
/** FIND, but null while a CSS transition or animation still moves the element or an ancestor
 * (a modal opening): WebDriver clicks where the element was when it looked, so a click during
 * the move can land on nothing and be lost without an error (Playwright's "stable" check).
 * A still element is scrolled into view first: WebKitWebDriver scrolls the page, not a
 * scrolling box inside it (a tall modal's), and calls a button below its fold "not interactable". */
const FIND_STILL = `${FIND_NODE} const e = find(...arguments);
  const moving = e && (document.getAnimations?.() ?? []).some((a) => a.playState === "running" && a.effect?.target instanceof Element && a.effect.target.contains(e));
  if (!e || moving) return null;
  e.scrollIntoView({ block: "nearest", inline: "nearest" });
  return e;`;

/** WebDriver's codes for keys that are no characters. */
export const KEY = { enter: "\uE007", escape: "\uE00C", tab: "\uE004" };

export class WebDriver {
  /** `pollMs`: how often waitFor/waitForText look again (the benchmark looks often). */
  constructor(base, pollMs = 250) {
    this.base = base;
    this.pollMs = pollMs;
  }
  async call(method, path, body) {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Every command answers in seconds (a session's start included): a driver that stopped
      // answering fails the test instead of hanging it.
      signal: AbortSignal.timeout(120_000),
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
      await new Promise((r) => setTimeout(r, this.pollMs));
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
      await new Promise((r) => setTimeout(r, this.pollMs));
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

  // What a test does with the window, in the page's terms (playwright's locators, for
  // WebDriver): each polls until the page shows what it needs, never waits a fixed time.

  /** Run `script` (a function body; its `arguments` are `args`) in the page. */
  execute(script, args = []) {
    return this.call("POST", `/session/${this.session}/execute/sync`, { script, args });
  }
  /** Poll `probe` until it returns something other than null, undefined or false; returns it.
   * A WebDriver error the page's next render may clear (a click an overlay took, an element
   * React replaced) counts as "not yet". */
  async until(what, probe, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        last = await probe();
        if (last !== null && last !== undefined && last !== false) return last;
      } catch (e) {
        if (!TRANSIENT.test(e.message)) throw e;
        last = e.message;
      }
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
  /** The first rendered element matching `css` (and whose text matches `re`), or null. */
  async find(css, re) {
    const v = await this.execute(FIND, [css, re?.source ?? null, re?.flags ?? ""]);
    return v ? Object.values(v)[0] : null;
  }
  /** Poll for a rendered element matching `css` (and `re`); returns its reference. */
  element(css, re, timeoutMs) {
    return this.until(`an element ${css}${re ? ` showing ${re}` : ""}`, () => this.find(css, re), timeoutMs);
  }
  /** The text of the first rendered element matching `css` (and `re`), once there is one. */
  text(css, re, timeoutMs) {
    return this.until(
      `an element ${css}${re ? ` showing ${re}` : ""}`,
      () => this.execute(`${FIND_NODE} const e = find(...arguments); return e ? e.innerText.trim() : null;`, [css, re?.source ?? null, re?.flags ?? ""]),
      timeoutMs,
    );
  }
  /** Click the element matching `css` (and `re`) once it is there, still, and nothing covers it. */
  press(css, re, timeoutMs) {
    return this.until(`click ${css}${re ? ` showing ${re}` : ""}`, async () => {
      const v = await this.execute(FIND_STILL, [css, re?.source ?? null, re?.flags ?? ""]);
      const el = v ? Object.values(v)[0] : null;
      if (!el) return null;
      await this.click(el);
      return true;
    }, timeoutMs);
  }
  /** Clear the input matching `css` and type `text` into it, until it holds just that (an
   * input in an opening drawer may not take keys yet). A line break is typed as the Enter
   * key (WebKitWebDriver drops a "\n" character), so a textarea gets several lines. */
  fill(css, text) {
    const value = () => this.execute(`${FIND_NODE} return find(arguments[0], null, "")?.value ?? null;`, [css]);
    return this.until(`${css} holds ${JSON.stringify(text)}`, async () => {
      const el = await this.find(css);
      if (!el) return null;
      await this.clear(el);
      await this.type(el, text.replace(/\n/g, KEY.enter));
      return (await value()) === text;
    });
  }
  /** Open the select matching `css` and choose the option whose text matches `re`, until the
   * select shows it (a click on an option still fading in can land on nothing, and then the
   * form would be sent without the choice). */
  async choose(css, re) {
    const shown = () => this.execute(`${FIND_NODE} return find(arguments[0], null, "")?.value ?? null;`, [css]);
    await this.until(`${css} shows ${re}`, async () => {
      const now = await shown();
      if (now !== null && re.test(now)) return true;
      if (!(await this.find('[role="option"]', re))) await this.click(await this.element(css));
      const option = await this.find('[role="option"]', re);
      if (option) await this.click(option);
      return null;
    });
  }
  /** Poll until no rendered element matches `css` (and `re`). */
  gone(css, re, timeoutMs) {
    return this.until(`${css}${re ? ` showing ${re}` : ""} gone`, async () => (await this.find(css, re)) === null, timeoutMs);
  }
  /** `name` of the first rendered element matching `css` (a DOM property: value, disabled…). */
  property(css, name) {
    return this.until(`${css}.${name}`, () =>
      this.execute(`${FIND_NODE} const e = find(arguments[0], null, ""); return e ? { v: e[arguments[1]] } : null;`, [css, name]),
    ).then((r) => r.v);
  }
  /** Save what the window shows as tests/ui/artifacts/NAME.png (ignored by git); never throws. */
  async saveScreenshot(name) {
    try {
      mkdirSync(ARTIFACTS, { recursive: true });
      const file = join(ARTIFACTS, `${name}.png`);
      writeFileSync(file, Buffer.from(await this.screenshot(), "base64"));
      return file;
    } catch {
      return null;
    }
  }
  async stop() {
    if (this.session) await this.call("DELETE", `/session/${this.session}`).catch(() => undefined);
  }
}

export const psql = (url, sql) => execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" });

/** What a window test needs on this machine; says how to get what is missing.
 * `fileChooser`: the test drives a system dialog too (saveInFileChooser). */
export function missingWindowTools({ fileChooser = false } = {}) {
  const missing = [
    [APP, "cargo build -p eio-desktop"],
    [EIO, "cargo build -p eio-server"],
    [join(UI, "index.html"), "cd ui && npm run build"],
    [DRIVER, "run scripts/peers/tauri-driver"],
    [NATIVE_DRIVER, "run scripts/peers/tauri-driver (Debian webkit2gtk-driver)"],
    ...(fileChooser ? [[XDOTOOL, "apt-get install xdotool (scripts/setup)"]] : []),
  ]
    .filter(([path]) => !existsSync(path))
    .map(([path, how]) => `${path} is missing: ${how}`);
  if (!process.env.DISPLAY) missing.push("no display: run under xvfb-run -a dbus-run-session");
  return missing;
}

/** The login the window's config file remembers: none that exists, so the window can't
 * resume on its own (whatever pg_hba.conf trusts) and opens on the sign-in page. */
export const NOBODY = "nobody_signed_in_yet";

/** A data directory and config file for the app that remember `databaseUrl` with the login
 * NOBODY; returns the directory and the environment to start tauri-driver (and so the app)
 * with: this process's, without any EIO_* variable. */
export function windowConfig(databaseUrl) {
  const dataDir = mkdtempSync(join(tmpdir(), "eio-desktop-"));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EIO_")));
  const env = { ...clean, EIO_DATA_DIR: dataDir, EIO_CONFIG: join(dataDir, "config.toml") };
  const url = new URL(databaseUrl);
  url.username = NOBODY;
  url.password = "";
  writeFileSync(env.EIO_CONFIG, `[database]\nurl = "${url.toString()}"\n`);
  return { dataDir, env };
}

const run = promisify(execFile);

/** The system's file chooser titled `title` (Tauri's dialog plugin opens GTK's own dialog: a
 * window of its own that WebDriver can't see), driven as a person would on the virtual
 * display: once it is shown it gets the keyboard, its name field (which takes an absolute
 * path) gets `path` typed in, and Return saves. Each xdotool call waits for what it needs
 * (`search --sync` until the dialog is mapped, `windowfocus --sync` until it has the focus)
 * and fails after `timeoutMs`. Resolves with the dialog's X window id. */
export async function saveInFileChooser(title, path, timeoutMs = 60_000) {
  const xdo = async (...args) => {
    try {
      return (await run(XDOTOOL, args, { timeout: timeoutMs, encoding: "utf8" })).stdout.trim();
    } catch (e) {
      throw new Error(`xdotool ${args.join(" ")} failed${e.killed ? ` (no answer within ${timeoutMs} ms)` : ""}: ${e.stderr ?? e.message}`);
    }
  };
  const [win] = (await xdo("search", "--sync", "--onlyvisible", "--name", `^${title}$`)).split("\n");
  await xdo("windowfocus", "--sync", win);
  await xdo("key", "--clearmodifiers", "ctrl+a");
  await xdo("type", "--clearmodifiers", "--delay", "20", path);
  await xdo("key", "--clearmodifiers", "Return");
  return win;
}

/** Start tauri-driver on free ports with `env`; resolves once it answers. */
export async function startDriver(env, pollMs) {
  const port = await freePort();
  const native = await freePort();
  const driver = spawn(DRIVER, ["--port", String(port), "--native-port", String(native), "--native-driver", NATIVE_DRIVER], {
    stdio: ["ignore", "inherit", "inherit"],
    env,
  });
  const wd = new WebDriver(`http://127.0.0.1:${port}`, pollMs);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await wd.call("GET", "/status");
      return { driver, wd };
    } catch {
      if (Date.now() > deadline) throw new Error("tauri-driver did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The processes below `pid` (its children, theirs…), by id. */
function descendants(pid) {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" }).trim().split("\n");
  const parent = new Map(rows.map((r) => r.trim().split(/\s+/).map(Number)));
  const below = [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [child, ppid] of parent) {
      if ((ppid === pid || below.includes(ppid)) && !below.includes(child)) {
        below.push(child);
        grew = true;
      }
    }
  }
  return below;
}

/** Whether process `pid` still runs (a zombie, exited but not yet reaped, doesn't). */
function alive(pid) {
  try {
    return !/^\S+ Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, ") "));
  } catch {
    return false;
  }
}

/** End the WebDriver session and tauri-driver, and what they started: WebKitWebDriver and the
 * app. Ending the session doesn't always close the app, and an app left running keeps the
 * test runner's output pipe (which it inherited) open, so the run never ends. */
export async function stopDriver({ driver, wd } = {}) {
  const started = driver?.pid ? descendants(driver.pid) : [];
  await wd?.stop();
  if (driver && driver.exitCode === null) {
    await new Promise((res) => {
      driver.once("exit", res);
      driver.kill("SIGTERM");
    });
  }
  const signal = (pid, sig) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  };
  const left = started.filter(alive);
  for (const pid of left) signal(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (left.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of left.filter(alive)) signal(pid, "SIGKILL");
}

/** The window's processes: the app and WebKit's web and network processes. */
export function windowProcesses() {
  const rows = execFileSync("ps", ["-eo", "pid=,rss=,comm="], { encoding: "utf8" }).trim().split("\n");
  return rows
    .map((r) => r.trim().split(/\s+/))
    .filter(([, , comm]) => comm === "eio-desktop" || /^WebKit(WebProces|NetworkPr)/.test(comm ?? ""))
    .map(([pid, rss, comm]) => ({ pid: Number(pid), comm, rssKib: Number(rss), app: comm === "eio-desktop" }));
}

/** Proportional set size of a process in KiB (shared pages split among their users), or 0. */
function pssKib(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Memory of the window in MiB: resident (RSS, counting the GTK/WebKit libraries once per
 * process) and proportional (PSS, shared pages split among the processes using them). */
export function windowMemory() {
  const sum = (ps, f) => ps.reduce((t, p) => t + f(p), 0) / 1024;
  const procs = windowProcesses();
  const app = procs.filter((p) => p.app);
  const webkit = procs.filter((p) => !p.app);
  return {
    app: sum(app, (p) => p.rssKib),
    webkit: sum(webkit, (p) => p.rssKib),
    pss: sum(procs, (p) => pssKib(p.pid)),
    each: procs.map((p) => `${p.comm} ${(p.rssKib / 1024).toFixed(0)}/${(pssKib(p.pid) / 1024).toFixed(0)}`).join(", "),
  };
}
