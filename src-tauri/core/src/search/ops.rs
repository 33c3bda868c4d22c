//! The search operation the registry ([`crate::api`]) exposes: one box for everything, over
//! [`super::search`].
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::SearchResults;
use crate::api::Session;
use crate::error::Result;

/// One search box for everything.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SearchInput {
    /// A name, host name, service tag, address, block (10.1.2.0/24, 10.1.2) or MAC.
    pub query: String,
    /// At most this many hits (default 20, at most 200).
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn search(s: &Session, i: SearchInput) -> Result<SearchResults> {
    super::search(&s.db, &i.query, i.limit).await
}
