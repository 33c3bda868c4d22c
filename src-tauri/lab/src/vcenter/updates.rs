//! The change stream: WaitForUpdatesEx over a CreateFilter's spec — the baseline as
//! `enter`, then every requested property changed since the client's version as `modify`,
//! waiting (up to `maxWaitSeconds`) for the world to change when nothing has.
use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::response::Response;
use eio_connectors::vcenter::xml::Node;

use super::collector::{requested, select};
use super::{fault, is_a, moref_of, not_found, response, LabFault, Live, Pace, Shared};

/// The longest a WaitForUpdatesEx without `maxWaitSeconds` waits in the lab.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// WaitForUpdatesEx: the baseline (every selected object as `enter`) for an empty
/// version, else every requested property changed since that version as `modify`; waits up
/// to `maxWaitSeconds` for a change when there is none.
pub(super) async fn wait_for_updates(shared: &Shared, call: &Node, injected: Option<LabFault>) -> Response {
    let wait = call
        .at(&["options", "maxWaitSeconds"])
        .and_then(|w| w.text.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(MAX_WAIT)
        .min(MAX_WAIT);
    let until = Instant::now() + wait;
    let mut first = true;
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let answer = {
            let mut live = shared.lock();
            live.world.check_deadlines();
            if first {
                if let Pace::PerRead(n) = live.world.pace {
                    for _ in 0..n {
                        live.world.tick();
                    }
                }
                first = false;
            }
            updates(&live, call, injected.as_ref())
        };
        match answer {
            Some(r) => {
                shared.changed.notify_waiters();
                return r;
            }
            None if Instant::now() >= until => return response("WaitForUpdatesEx", ""),
            None => {
                let _ = tokio::time::timeout_at(until.into(), notified).await;
            }
        }
    }
}

/// The answer to a WaitForUpdatesEx now, or None when nothing changed yet.
fn updates(live: &Live, call: &Node, injected: Option<&LabFault>) -> Option<Response> {
    let Some((_, pc)) = moref_of(call.child("_this")) else { return Some(fault("InvalidArgument", "", "")) };
    let Some(Some(spec)) = live.collectors.get(&pc) else {
        return Some(fault(
            "ManagedObjectNotFound",
            "The object has already been deleted or has not been completely created",
            "",
        ));
    };
    let world = &live.world;
    let version = call.text_of("version").unwrap_or_default().trim();
    let (indices, specs) = match select(live, spec) {
        Ok(s) => s,
        Err(missing) => return Some(not_found(&missing)),
    };
    let current = world.version();
    let mut out = format!(
        "<returnval><version>{current}</version><filterSet><filter type=\"PropertyFilter\">{pc}-filter</filter>"
    );
    if version.is_empty() {
        for i in indices {
            let o = &world.objects[i];
            out.push_str(&format!("<objectSet><kind>enter</kind><obj type=\"{}\">{}</obj>", o.kind, o.moid));
            for (p, val) in requested(o, &specs) {
                out.push_str(&format!("<changeSet><name>{p}</name><op>assign</op>{val}</changeSet>"));
            }
            out.push_str("</objectSet>");
        }
    } else {
        let known = version.parse::<u64>().ok().filter(|v| *v <= current);
        let Some(since) = known.filter(|_| injected != Some(&LabFault::ForgetVersions)) else {
            return Some(fault("InvalidCollectorVersion", "The collector version is not valid.", ""));
        };
        let selected: HashSet<usize> = indices.into_iter().collect();
        let mut by_object: Vec<(usize, Vec<&'static str>)> = Vec::new();
        for (i, path) in world.changes_since(since) {
            if !selected.contains(&i) {
                continue;
            }
            let o = &world.objects[i];
            let wanted = specs.iter().any(|(t, paths)| is_a(o.kind, t) && paths.iter().any(|p| p == path));
            if !wanted {
                continue;
            }
            match by_object.iter_mut().find(|(j, _)| *j == i) {
                Some((_, paths)) => paths.push(path),
                None => by_object.push((i, vec![path])),
            }
        }
        if by_object.is_empty() {
            return None;
        }
        for (i, paths) in by_object {
            let o = &world.objects[i];
            out.push_str(&format!("<objectSet><kind>modify</kind><obj type=\"{}\">{}</obj>", o.kind, o.moid));
            for p in paths {
                match o.prop(p) {
                    Some(val) => out.push_str(&format!("<changeSet><name>{p}</name><op>assign</op>{val}</changeSet>")),
                    None => out.push_str(&format!("<changeSet><name>{p}</name><op>remove</op></changeSet>")),
                }
            }
            out.push_str("</objectSet>");
        }
    }
    out.push_str("</filterSet><truncated>false</truncated></returnval>");
    Some(response("WaitForUpdatesEx", &out))
}
