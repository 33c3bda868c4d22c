import { defineConfig } from "vitest/config";

// The desktop loads the dev server (tauri dev) or ui/dist (tauri build); a browser loads
// ui/dist from `eio serve`. Tauri expects a fixed port and no auto-opened browser.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true, host: "127.0.0.1" },
  build: { outDir: "dist", target: "es2022", sourcemap: false, emptyOutDir: true },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
