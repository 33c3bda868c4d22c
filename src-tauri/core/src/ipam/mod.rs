//! Domain 4, IPAM: routing domains (VRF semantics: the same prefix may exist in two),
//! the prefix hierarchy derived by containment within a domain ([`prefixes`]), free space,
//! allocation and address lookup ([`space`]), and the findings engine ([`findings`]) that
//! compares what is planned with what the connectors observe.
//!
//! The arithmetic lives in PostgreSQL (`migrations/0010_sites_ipam_findings.sql`:
//! `available_ranges`, `allocate_ip`, `allocate_prefix`, `prefix_utilization`,
//! `run_ipam_findings`), so the CLI, the desktop and `psql` get the same answers and
//! allocation is race-free under an advisory lock per prefix. This module checks input
//! for clear messages, scopes everything by routing domain, and shapes page models.
//! It must never write observations (the sync workers do), never decide a rule the
//! database enforces, and never mix two routing domains in one answer.
pub mod assignments;
pub mod cidr;
pub mod findings;
pub mod ops;
pub mod prefixes;
pub mod space;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::Database;

pub use cidr::{parse_address, Cidr};

/// The routing domain every source reports into unless configured otherwise.
pub const DEFAULT_DOMAIN: &str = "default";

/// A closed set of words stored as a PostgreSQL enum: serde, TypeScript, JSON schema and
/// sqlx agree on the spelling, and `FromStr` gives command lines a helpful error.
macro_rules! db_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $pg:literal, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, ts_rs::TS, schemars::JsonSchema, sqlx::Type,
        )]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = $pg, rename_all = "snake_case")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in the database's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::Error::invalid(format!(
                        "unknown {} \"{other}\" ({})",
                        $what,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}
pub(crate) use db_enum;

/// The id of the routing domain named `name` (the default domain when None).
pub async fn domain_id(db: &Database, name: Option<&str>) -> Result<Uuid> {
    let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(DEFAULT_DOMAIN);
    sqlx::query_scalar("SELECT id FROM routing_domains WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no routing domain named \"{name}\"")))
}

/// The name of the constraint a database error names, if any.
pub(crate) fn constraint_of(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}
