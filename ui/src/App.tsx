import { StatusView } from "./pages/StatusView";

export function App() {
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">EIO</span>
        <span className="subtitle">Enterprise Infrastructure Orchestrator</span>
      </header>
      <main className="content">
        <StatusView />
      </main>
    </div>
  );
}
