//! Page models: everything one page of the UI shows, from one call.
//!
//! The UI never assembles a page from many small requests: each page asks for its model
//! once — [`dashboard`], [`inventory`], [`servers`], [`jobs`], [`settings`], and the frame
//! around them, [`shell`] — and a detail drawer asks for one object's model. (The IPAM,
//! Sites and Reports pages are built by their domains' operations, `crate::ipam::ops`,
//! `crate::sites::ops` and `crate::reports::ops`; [`live`] tells open pages when to ask
//! again, and [`session`] is the browser's sign-in.) Each is a handful of set-based
//! statements whose count doesn't grow with the rows shown (no N+1), run with the caller's
//! own rights, so grants and row-level security shape what a page contains. Pages only read:
//! the actions a page offers (submitting and approving jobs, the kill switch, a mapping set
//! by hand, …) are their domains' operations (`crate::jobs::ops`, `crate::inventory::ops`,
//! …), and the operation registry (`api.rs`) exposes both.
//!
//! This module must never contact a source, and never return a field a viewer may not
//! read (credentials never reach a page model).
pub mod dashboard;
pub mod inventory;
pub mod jobs;
pub mod live;
pub mod ops;
pub mod servers;
pub mod session;
pub mod settings;
pub mod shell;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A value and how many objects have it (a facet of a filter, a count per severity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Count {
    pub value: String,
    pub count: i64,
}

/// `LIMIT`/`OFFSET` values a caller may send, clamped to what a page can show.
pub(crate) fn window(offset: Option<i64>, limit: Option<i64>, default_limit: i64, max_limit: i64) -> (i64, i64) {
    (offset.unwrap_or(0).max(0), limit.unwrap_or(default_limit).clamp(1, max_limit))
}

/// A search string worth searching for: trimmed, None when blank.
pub(crate) fn search_term(q: &Option<String>) -> Option<String> {
    q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A filter value: trimmed, None when blank.
pub(crate) fn filter(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A filter that takes one of a few words: the word as `allowed` spells it (case aside),
/// None when blank, or invalid input naming the words (`what`: "servers filter", …).
pub(crate) fn one_of(
    v: &Option<String>,
    allowed: &[&'static str],
    what: &str,
) -> crate::error::Result<Option<&'static str>> {
    let Some(s) = filter(v) else { return Ok(None) };
    match allowed.iter().find(|a| a.eq_ignore_ascii_case(s)) {
        Some(a) => Ok(Some(*a)),
        None => Err(crate::error::Error::invalid(format!("unknown {what} \"{s}\" ({})", allowed.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_clamped() {
        assert_eq!(window(None, None, 200, 1000), (0, 200));
        assert_eq!(window(Some(-5), Some(0), 200, 1000), (0, 1));
        assert_eq!(window(Some(40), Some(5000), 200, 1000), (40, 1000));
    }

    #[test]
    fn blank_searches_and_filters_are_none() {
        assert_eq!(search_term(&Some("  ".into())), None);
        assert_eq!(search_term(&Some(" web ".into())), Some("web".into()));
        assert_eq!(filter(&Some(String::new())), None);
        assert_eq!(filter(&Some("prod".into())), Some("prod"));
    }
}
