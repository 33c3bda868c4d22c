// The real desktop window through tauri-driver (WebDriver) and Debian's WebKitWebDriver:
// what the window test (desktop.spec.mjs) and the startup benchmark (../bench/first-data.mjs)
// share. Nothing here asserts; callers decide what a result means.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { extname, join, normalize } from "node:path";
import { REPO } from "../harness.mjs";

export const APP = process.env.EIO_DESKTOP_BIN ?? join(REPO, "target/debug/eio-desktop");
export const EIO = process.env.EIO_BIN ?? join(REPO, "target/debug/eio");
export const UI = process.env.EIO_UI_DIST ?? join(REPO, "ui/dist");
export const DRIVER = process.env.TAURI_DRIVER ?? join(REPO, "target/peers/cargo-bin/bin/tauri-driver");
export const NATIVE_DRIVER = "/usr/bin/WebKitWebDriver";
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
  async stop() {
    if (this.session) await this.call("DELETE", `/session/${this.session}`).catch(() => undefined);
  }
}

export const psql = (url, sql) => execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" });

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

/** End the WebDriver session and tauri-driver. */
export async function stopDriver({ driver, wd } = {}) {
  await wd?.stop();
  if (driver && driver.exitCode === null) {
    await new Promise((res) => {
      driver.once("exit", res);
      driver.kill("SIGTERM");
    });
  }
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
