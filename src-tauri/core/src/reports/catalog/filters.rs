//! The filters of the report catalog: how a filter's value is checked and bound
//! ([`FilterKind`]), the filter every multi-sheet report accepts ([`SHEET_FILTER`]), and
//! the filters several reports share (site, vCenter, cluster).
//!
//! Owns what each shared filter means, so that `site=` picks the same VMs, hosts and
//! servers in every report. A filter is only ever a bound parameter (`NULL` = not
//! filtered); it must never be spliced into SQL text.

/// How a filter's value is checked and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Text,
    /// One of the listed values.
    Choice(&'static [&'static str]),
    /// A date (`2026-01-31`, midnight UTC) or an RFC 3339 time.
    Time,
    Bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub key: &'static str,
    pub kind: FilterKind,
    pub help: &'static str,
}

/// The filter every multi-sheet report accepts: which of its sheets to produce.
pub const SHEET_FILTER: &str = "sheet";

// Shared filters: the inventory reports bind $1 site, $2 vcenter, $3 cluster; the hardware
// and IPAM reports begin with site too. A VM, host or server is at the site inference
// placed it (a pin wins; `entity_sites`), else at its source's site; a cluster, at its
// vCenter's; a prefix, at its own.
pub(super) const SITE: Filter = Filter {
    key: "site",
    kind: FilterKind::Text,
    help: "site code (US-EAST-01): where site inference placed each VM, host or server, else its source's site",
};
pub(super) const VCENTER: Filter = Filter { key: "vcenter", kind: FilterKind::Text, help: "vCenter source name" };
pub(super) const CLUSTER: Filter = Filter { key: "cluster", kind: FilterKind::Text, help: "cluster name" };
