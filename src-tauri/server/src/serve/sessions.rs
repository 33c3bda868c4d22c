//! Browser sessions and sign-in. Owns: the sign-in gate (rate limits), connecting as the
//! signing-in user, the open sessions (their pools, their end), and the session cookie.
//!
//! A browser signs in with its user's own PostgreSQL login: the server connects to its
//! configured database host/port/database as that login and the database then judges
//! every call by the user's own grants and row-level security. The browser gets an opaque
//! random id in an HttpOnly, SameSite=Strict cookie.
//!
//! Decisions (issue 22):
//! * **Only EIO users.** Before connecting, the server asks with its own connection
//!   (`is_enabled_eio_login`, migration 0058) whether the login belongs to an enabled EIO
//!   user; any other role (a DBA, `postgres`, a service login) is refused without a
//!   connection attempt, so this server can't be used to sign into it or guess its
//!   password. Every refusal — unknown role, not an EIO user, disabled, wrong password —
//!   gets the one answer [`SIGN_IN_REFUSED`] (401); the real reason goes to the log at
//!   `info`, never the password.
//! * **Rate limits, in memory.** Failed sign-ins are counted per login
//!   ([`FAILURES_PER_LOGIN`]) and per client ([`FAILURES_PER_CLIENT`]) over a sliding
//!   [`FAILURE_WINDOW`]; past either, the answer is 429 `unavailable` with `Retry-After`,
//!   before any password is tried. A success clears its login's failures. Only the failing
//!   login and the failing client wait: others' sign-ins go on. (So failures can make a
//!   login wait — at most [`FAILURE_WINDOW`] — which is the price of not letting its
//!   password be guessed.) At most [`SIGN_INS_IN_FLIGHT`] sign-ins run at once,
//!   [`SIGN_INS_IN_FLIGHT_PER_CLIENT`] per client and **one per login** (a second one for
//!   the same login waits 1 s: otherwise sign-ins still running, not yet counted as
//!   failures, would all get past the per-login limit), so a flood can't open hundreds of
//!   connections nor race the limit.
//! * **Who the client is** ([`client_key`]): the TCP peer's IP address; an IPv6 client is
//!   its /64 (one host usually holds a whole /64, so each of its addresses must not be a
//!   fresh budget). Behind a reverse proxy named with `--trusted-proxy` (every user would
//!   otherwise share the proxy's address, and 20 junk sign-ins would lock everyone out),
//!   the client is the right-most `X-Forwarded-For` address that is not itself a trusted
//!   proxy (a malformed header: the peer). From any other peer the header is ignored: a
//!   client can't choose its own budget. A request without a known peer counts as one
//!   client, "unknown".
//! * **Bounded memory**: the failure maps are keyed by strings an attacker chooses (logins,
//!   addresses). Keys whose failures all left the window are pruned, at most once a second
//!   (not on every failure: a scan of a big map per failure would be the attacker's lever),
//!   and each map holds at most [`MAX_GATE_KEYS`] keys. A full map makes room by dropping
//!   the key whose last failure is oldest (the first to expire anyway), rather than
//!   refusing new keys: refusing would let whoever fills the map block every other login
//!   and client from signing in (or, if new keys were let through uncounted, from being
//!   limited at all). Filling it takes [`MAX_GATE_KEYS`] failures within the window, each
//!   spending a client's budget, so an eviction gives a guesser at most one more round of
//!   [`FAILURES_PER_LOGIN`] for that cost.
//! * **One refusal time**: every refused sign-in (401) is answered no sooner than
//!   [`REFUSAL_FLOOR`] after its request arrived, so a refusal without a connection attempt
//!   (not an EIO user) and one with (a wrong password) take the same time, and timing
//!   doesn't tell EIO users from other logins (a database slower than the floor still
//!   shows through; the 429s, which try nothing, are not delayed).
//! * **Bounded connections.** A session holds exactly [`SESSION_CONNECTIONS`]
//!   connections, opened at sign-in; a login has at most [`SESSIONS_PER_LOGIN`] sessions
//!   (the oldest closes when another opens), and the server at most [`MAX_SESSIONS`].
//! * **The password is forgotten** once the session's connections are open: the pool's
//!   connect options are replaced by ones that can't reach any server and carry no
//!   password, and the sign-in's [`Secret`] is dropped (zeroed; the copy sqlx's connect
//!   options held is dropped with them, but sqlx doesn't zero it). Before that, the
//!   request body is dropped right after it is parsed, and zeroed when the handler holds
//!   its only reference — usually it doesn't: hyper reads into a shared buffer, which it
//!   reuses and frees without zeroing, as it does the socket's (and TLS's) buffers, and
//!   serde_json's scratch buffer for a password with escapes is freed unzeroed too. So
//!   copies of a password can stay in freed memory of this process until it is reused;
//!   none is kept anywhere reachable, written or logged. A lost connection — the
//!   database restarted, or `disable_user` ended the login's backends — can't be
//!   reopened: the session is [`WebSession::lost`], its next call ends it ("sign in
//!   again"), and the sweep ([`SessionStore::sweep`]) pings idle sessions to end lost ones
//!   that make no calls. A re-enabled user's old cookie never works again.
//! * **Ending a session ends its streams**: each session has an `ended` signal that
//!   logout, replacement, eviction, loss and idleness fire; event streams select on it.
//!
//! Sessions live in memory: a restart signs everybody out. Idle ones close after
//! [`IDLE_TIMEOUT`].
//!
//! Must never: store, log or echo a password; connect as a login that is not an enabled
//! EIO user; say in an answer which of login or password was wrong, or show the database
//! address, a role list or PostgreSQL's own text of a sign-in failure.
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use eio_core::api::Session;
use eio_core::config::{DatabaseUrl, UrlOrigin};
use eio_core::error::ErrorCode;
use eio_core::{Database, Error};
use eio_secret::Secret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::watch;

/// The session cookie's name.
pub const COOKIE: &str = "eio_session";
/// A session unused this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// At most this many open sessions (each holds database connections).
pub const MAX_SESSIONS: usize = 500;
/// At most this many open sessions per login: a new one closes the login's oldest.
pub const SESSIONS_PER_LOGIN: usize = 5;
/// The database connections of one session, opened at sign-in, never reopened.
pub const SESSION_CONNECTIONS: u32 = 2;
/// Failed sign-ins of one login within [`FAILURE_WINDOW`] before it must wait.
pub const FAILURES_PER_LOGIN: usize = 5;
/// Failed sign-ins from one client address within [`FAILURE_WINDOW`] before it must wait.
pub const FAILURES_PER_CLIENT: usize = 20;
/// How long a failed sign-in counts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Sign-ins running at once (each opens connections), server-wide and per client.
pub const SIGN_INS_IN_FLIGHT: usize = 16;
pub const SIGN_INS_IN_FLIGHT_PER_CLIENT: usize = 3;
/// At most this many keys in each failure map (logins, clients); see the module docs.
pub const MAX_GATE_KEYS: usize = 20_000;
/// Every refused sign-in (401) is answered no sooner than this after its request arrived.
pub const REFUSAL_FLOOR: Duration = Duration::from_millis(250);
/// A failure map is pruned once it holds more keys than this, at most every [`PRUNE_EVERY`].
const PRUNE_ABOVE: usize = 4096;
const PRUNE_EVERY: Duration = Duration::from_secs(1);
/// The one answer to every refused sign-in, whatever the reason.
pub const SIGN_IN_REFUSED: &str = "the login or password is not right, or this login is not an EIO user; ask an admin";
/// The answer to a call on a session whose connection was lost.
pub const SESSION_ENDED: &str =
    "your session ended (the login was disabled, or the connection to the database was lost): sign in again";
/// How long a sign-in waits for its connections, and a call for one of its session's.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Where a session's pool would reconnect: a socket path that can't exist, so no reconnect
/// reaches a server (with or without a password: trust or `.pgpass` can't let it back in).
const NO_RECONNECT: &str = "/proc/self/eio-session-connections-are-never-reopened";

pub struct WebSession {
    pub session: Session,
    pub login: String,
    /// Opened with the embedded default's start token: it shares the server's own pool
    /// (never closed with the session) and acts as the local login.
    pub local: bool,
    id: String,
    opened: Instant,
    last_used: Mutex<Instant>,
    /// Turns true when the session ends (its event streams end with it).
    ended: watch::Sender<bool>,
}

impl WebSession {
    /// Fires when this session ends (also when it is dropped).
    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// One of its connections was lost (they are never reopened): it must sign in again.
    pub fn lost(&self) -> bool {
        let pool = self.session.db.pool();
        !self.local && (pool.is_closed() || pool.size() < SESSION_CONNECTIONS)
    }

    async fn close(&self) {
        self.ended.send_replace(true);
        if !self.local {
            self.session.db.pool().close().await;
        }
    }

    /// Does its idle connection still answer? (A busy session is alive: it is in use.)
    pub async fn answers(&self) -> bool {
        if self.local {
            return true;
        }
        let pool = self.session.db.pool();
        if let Some(mut conn) = pool.try_acquire() {
            use sqlx::Connection;
            if conn.ping().await.is_err() {
                // Broken: closed rather than returned (the pool shrinks: `lost`).
                let _ = conn.detach().close().await;
            }
        }
        !self.lost()
    }
}

/// Failed sign-ins and sign-ins in flight, per login and per client address.
#[derive(Default)]
struct Gate {
    failures_by_login: HashMap<String, VecDeque<Instant>>,
    failures_by_client: HashMap<String, VecDeque<Instant>>,
    in_flight_by_client: HashMap<String, usize>,
    /// Logins with a sign-in running (at most one each; bounded by [`SIGN_INS_IN_FLIGHT`]).
    in_flight_logins: HashSet<String>,
    in_flight: usize,
    last_prune: Option<Instant>,
}

impl Gate {
    /// Count a failure of `login` from `client` at `now` (see the module docs: pruning at
    /// most every [`PRUNE_EVERY`], at most [`MAX_GATE_KEYS`] keys a map).
    fn record_failure(&mut self, login: &str, client: &str, now: Instant) {
        let big = self.failures_by_login.len() > PRUNE_ABOVE || self.failures_by_client.len() > PRUNE_ABOVE;
        if big && self.last_prune.is_none_or(|t| now.duration_since(t) >= PRUNE_EVERY) {
            self.last_prune = Some(now);
            prune(&mut self.failures_by_login, now);
            prune(&mut self.failures_by_client, now);
        }
        record(&mut self.failures_by_login, login, now);
        record(&mut self.failures_by_client, client, now);
    }
}

/// Add a failure of `key`; a new key in a full map first drops the key whose last failure
/// is oldest (the first to expire anyway).
fn record(map: &mut HashMap<String, VecDeque<Instant>>, key: &str, now: Instant) {
    // A key's own list stays short: the gate stops its sign-ins at its limit.
    if let Some(f) = map.get_mut(key) {
        f.push_back(now);
        return;
    }
    if map.len() >= MAX_GATE_KEYS {
        let oldest = map.iter().min_by_key(|(_, f)| f.back().copied()).map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            map.remove(&k);
        }
    }
    map.insert(key.to_owned(), VecDeque::from([now]));
}

/// When the oldest of `failures` (pruned to the window) stops counting, if there are `limit`.
fn wait_for(failures: Option<&mut VecDeque<Instant>>, limit: usize, now: Instant) -> Option<Duration> {
    let failures = failures?;
    while failures.front().is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW) {
        failures.pop_front();
    }
    (failures.len() >= limit)
        .then(|| failures.front().map(|t| FAILURE_WINDOW.saturating_sub(now.duration_since(*t))))
        .flatten()
}

/// Drop keys whose failures all left the window.
fn prune(map: &mut HashMap<String, VecDeque<Instant>>, now: Instant) {
    map.retain(|_, f| f.back().is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW));
}

/// A sign-in the gate let through: call [`SignInPermit::failed`] or
/// [`SignInPermit::succeeded`]; dropping it frees its in-flight slot either way.
pub struct SignInPermit<'a> {
    store: &'a SessionStore,
    client: String,
    login: String,
}

impl SignInPermit<'_> {
    /// Count a refused sign-in against its login and its client.
    pub fn failed(self) {
        self.store.gate().record_failure(&self.login, &self.client, Instant::now());
    }

    /// The right password: its login's failures are forgiven (its client's are not).
    pub fn succeeded(self) {
        self.store.gate().failures_by_login.remove(&self.login);
    }
}

impl Drop for SignInPermit<'_> {
    fn drop(&mut self) {
        let mut gate = self.store.gate();
        gate.in_flight = gate.in_flight.saturating_sub(1);
        gate.in_flight_logins.remove(&self.login);
        if let Some(n) = gate.in_flight_by_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                gate.in_flight_by_client.remove(&self.client);
            }
        }
    }
}

#[derive(Default)]
pub struct SessionStore {
    inner: Mutex<HashMap<String, Arc<WebSession>>>,
    gate: Mutex<Gate>,
}

impl SessionStore {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<WebSession>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May `client` try to sign in as `login` now? Err: how long to wait first.
    pub fn begin_sign_in(&self, client: &str, login: &str) -> Result<SignInPermit<'_>, Duration> {
        let now = Instant::now();
        let mut gate = self.gate();
        let waits = [
            wait_for(gate.failures_by_client.get_mut(client), FAILURES_PER_CLIENT, now),
            wait_for(gate.failures_by_login.get_mut(login), FAILURES_PER_LOGIN, now),
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(wait);
        }
        let mine = gate.in_flight_by_client.get(client).copied().unwrap_or(0);
        if gate.in_flight >= SIGN_INS_IN_FLIGHT
            || mine >= SIGN_INS_IN_FLIGHT_PER_CLIENT
            || gate.in_flight_logins.contains(login)
        {
            return Err(Duration::from_secs(1));
        }
        gate.in_flight += 1;
        gate.in_flight_logins.insert(login.to_owned());
        gate.in_flight_by_client.insert(client.to_owned(), mine + 1);
        Ok(SignInPermit { store: self, client: client.to_owned(), login: login.to_owned() })
    }

    /// The session a request's cookie names, if it is open (and mark it used).
    pub fn get(&self, headers: &HeaderMap) -> Option<Arc<WebSession>> {
        let id = cookie(headers)?;
        let s = self.map().get(&id).cloned()?;
        *s.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        Some(s)
    }

    pub async fn insert(&self, session: Session, login: String) -> Result<String, Error> {
        self.insert_as(session, login, false).await
    }

    /// A session of the local login, opened with the start token (see [`WebSession::local`]).
    pub async fn insert_local(&self, session: Session, login: String) -> Result<String, Error> {
        self.insert_as(session, login, true).await
    }

    async fn insert_as(&self, session: Session, login: String, local: bool) -> Result<String, Error> {
        let id = new_id()?;
        let evicted = {
            let mut map = self.map();
            if map.len() >= MAX_SESSIONS {
                return Err(Error::new(
                    ErrorCode::Unavailable,
                    "this server has too many open sessions; try again later",
                ));
            }
            let mut mine: Vec<(Instant, String)> =
                map.iter().filter(|(_, s)| s.login == login).map(|(k, s)| (s.opened, k.clone())).collect();
            mine.sort();
            let excess = (mine.len() + 1).saturating_sub(SESSIONS_PER_LOGIN);
            let evicted: Vec<Arc<WebSession>> = mine.iter().take(excess).filter_map(|(_, k)| map.remove(k)).collect();
            let (ended, _) = watch::channel(false);
            let opened = Instant::now();
            let s = WebSession { session, login, local, id: id.clone(), opened, last_used: Mutex::new(opened), ended };
            map.insert(id.clone(), Arc::new(s));
            evicted
        };
        for s in evicted {
            tracing::info!(login = %s.login, "closing the oldest session of a login at its limit of {SESSIONS_PER_LOGIN}");
            s.close().await;
        }
        Ok(id)
    }

    /// Remove the session a request's cookie names; its connections close, its streams end.
    pub async fn remove(&self, headers: &HeaderMap) {
        let removed = cookie(headers).and_then(|id| self.map().remove(&id));
        if let Some(s) = removed {
            s.close().await;
        }
    }

    /// End `session` (its connection was lost); a no-op if it already ended.
    pub async fn end(&self, session: &WebSession) {
        let removed = self.map().remove(&session.id);
        if let Some(s) = removed {
            tracing::info!(login = %s.login, "a session lost its database connection: it ends (sign in again)");
            s.close().await;
        }
    }

    /// End, at once, the sessions of every login `still_enabled` says is no longer an
    /// enabled EIO user (a user was disabled: `eio_user_disabled`). Their connections close
    /// and their event streams end. Returns how many ended.
    pub async fn end_disabled<F, Fut>(&self, still_enabled: F) -> Result<usize, Error>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<String>, Error>>,
    {
        let logins: Vec<String> = {
            let map = self.map();
            let mut l: Vec<String> = map.values().filter(|s| !s.local).map(|s| s.login.clone()).collect();
            l.sort();
            l.dedup();
            l
        };
        if logins.is_empty() {
            return Ok(0);
        }
        let enabled = still_enabled(logins).await?;
        let ended: Vec<Arc<WebSession>> = {
            let mut map = self.map();
            let gone: Vec<String> =
                map.iter().filter(|(_, s)| !s.local && !enabled.contains(&s.login)).map(|(k, _)| k.clone()).collect();
            gone.iter().filter_map(|k| map.remove(k)).collect()
        };
        for s in &ended {
            tracing::info!(login = %s.login, "the login was disabled: its session ends at once");
            s.close().await;
        }
        Ok(ended.len())
    }

    /// Close sessions idle for longer than `idle`, and those whose connection was lost
    /// (e.g. the login was disabled) even if they make no calls.
    pub async fn sweep(&self, idle: Duration) {
        let expired: Vec<Arc<WebSession>> = {
            let mut map = self.map();
            let old: Vec<String> = map
                .iter()
                .filter(|(_, s)| s.last_used.lock().unwrap_or_else(|p| p.into_inner()).elapsed() > idle)
                .map(|(k, _)| k.clone())
                .collect();
            old.iter().filter_map(|k| map.remove(k)).collect()
        };
        for s in expired {
            tracing::info!(login = %s.login, "closing an idle session");
            s.close().await;
        }
        let open: Vec<Arc<WebSession>> = self.map().values().cloned().collect();
        for s in open {
            if !s.answers().await {
                self.end(&s).await;
            }
        }
    }

    pub async fn close_all(&self) {
        let all: Vec<_> = self.map().drain().map(|(_, s)| s).collect();
        for s in all {
            s.close().await;
        }
    }
}

/// A trusted reverse proxy (`--trusted-proxy`): an IP address, or a network `ADDR/LEN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    len: u8,
}

impl ProxyNet {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.len)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for ProxyNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or network (like 10.0.0.5, 10.0.0.0/24 or fd00::/64)");
        let (addr, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.trim(), None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(ProxyNet { addr, len })
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The sign-in gate's key for a client address: an IPv4 address as itself, an IPv6 one as
/// its /64 (`2001:db8:1:2::/64`).
pub fn client_bucket(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64));
            format!("{net}/64")
        }
    }
}

/// Who a sign-in comes from, for the gate (see the module docs): the TCP `peer`, or behind
/// a `trusted` proxy the right-most `X-Forwarded-For` address that is not itself trusted.
pub fn client_key(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[ProxyNet]) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    client_bucket(forwarded_client(peer, headers, trusted).unwrap_or(peer))
}

/// The client a trusted proxy forwarded for; None: take the peer (not a trusted proxy, no
/// or a malformed header, or every address in it a trusted proxy).
fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[ProxyNet]) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return None;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for hop in value.to_str().ok()?.split(',') {
            let hop = hop.trim();
            // An address, or (as some proxies write it) an address with a port.
            let ip = hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))?;
            hops.push(ip);
        }
    }
    hops.into_iter().rev().find(|ip| !is_trusted(*ip))
}

/// The embedded default's start token: 256 random bits, hex, new at every start.
pub fn new_token() -> Result<String, Error> {
    new_id()
}

/// Equal, in a time that doesn't depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 256 random bits, hex.
fn new_id() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness for a session id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The session id from the request's `Cookie` header.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The session cookie; `secure` (served over TLS): sent back over HTTPS only.
pub fn set_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Why a sign-in didn't open a session.
pub enum SignInFailure {
    /// Not an EIO user, disabled, unknown or wrong password: [`SIGN_IN_REFUSED`] (401),
    /// counted by the gate. The reason is for the log only.
    Refused(&'static str),
    /// The server can't check or open sign-ins now (its database unreachable, its own
    /// login without the right grants, a TLS rule): 503, logged with `reason`.
    Unavailable(String),
    /// A refusal that already says what to do without internals (an outdated schema).
    Other(Error),
}

/// Connect as the signing-in user to the database `base` points at (its host, port,
/// database and TLS settings; its login and password are replaced): first ask with the
/// server's own connection `server` whether `login` is an enabled EIO user, then open
/// exactly [`SESSION_CONNECTIONS`] connections and forget the password (see the module
/// docs). `origin` is where `base` came from (shown by the status page). `password` is dropped (zeroed) here, whatever the outcome.
pub async fn connect(
    server: &Database,
    base: &DatabaseUrl,
    origin: UrlOrigin,
    login: &str,
    password: Secret,
) -> Result<Database, SignInFailure> {
    let is_user: bool =
        sqlx::query_scalar("SELECT is_enabled_eio_login($1)").bind(login).fetch_one(server.pool()).await.map_err(
            |e| SignInFailure::Unavailable(format!("checking the login with the server's own connection: {e}")),
        )?;
    if !is_user {
        return Err(SignInFailure::Refused("not an enabled EIO user"));
    }
    let unavailable = |what: &str| SignInFailure::Unavailable(what.to_owned());
    let mut url = url::Url::parse(base.expose()).map_err(|_| unavailable("the server's database URL doesn't parse"))?;
    url.set_username(login).map_err(|_| SignInFailure::Refused("a login that can't be put in a URL"))?;
    let _ = url.set_password(None);
    let user_url = DatabaseUrl::parse(url.as_str()).map_err(|_| unavailable("the login makes an invalid URL"))?;
    let options = user_url.connect_options().application_name("eio").password(password.expose());
    drop(password);
    eio_core::db::guard_password(&options, true).await.map_err(|e| SignInFailure::Unavailable(e.message))?;
    let pool = PgPoolOptions::new()
        .max_connections(SESSION_CONNECTIONS)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(CONNECT_TIMEOUT)
        .test_before_acquire(true)
        .connect_lazy_with(options);
    // Open every connection the session will ever have, at once.
    let mut opened = Vec::new();
    let mut failure = None;
    for r in futures::future::join_all((0..SESSION_CONNECTIONS).map(|_| pool.acquire())).await {
        match r {
            Ok(c) => opened.push(c),
            Err(e) => failure = Some(e),
        }
    }
    drop(opened);
    // From here on the pool can't reconnect, and holds no password.
    pool.set_connect_options(
        PgConnectOptions::new_without_pgpass()
            .socket(NO_RECONNECT)
            .username(login)
            .password("")
            .application_name("eio"),
    );
    if let Some(e) = failure {
        pool.close().await;
        return Err(match &e {
            // Class 28: invalid authorization (no such role, NOLOGIN, wrong password).
            sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("28")) => {
                SignInFailure::Refused("the database refused the login or password")
            }
            _ => SignInFailure::Unavailable(format!("connecting as the signing-in login: {e}")),
        });
    }
    let db = Database::from_external_pool(pool, user_url, origin);
    if let Err(e) = db.require_compatible_schema().await {
        db.pool().close().await;
        return Err(match e.code {
            ErrorCode::SchemaOutdated => SignInFailure::Other(e),
            _ => SignInFailure::Unavailable(e.message),
        });
    }
    eio_core::identity::record_login(&db, "eio-serve").await;
    Ok(db)
}

/// `host:port/database` of a URL, for showing where sign-ins go.
pub fn describe(url: &DatabaseUrl) -> String {
    let o = url.connect_options();
    format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_and_checked() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, new_id().unwrap());
        let mut h = HeaderMap::new();
        h.insert("cookie", format!("theme=dark; {COOKIE}={id}; other=1").parse().unwrap());
        assert_eq!(cookie(&h), Some(id));
        let mut bad = HeaderMap::new();
        bad.insert("cookie", format!("{COOKIE}=../../etc").parse().unwrap());
        assert_eq!(cookie(&bad), None);
        assert_eq!(set_cookie("ab", false), format!("{COOKIE}=ab; Path=/; HttpOnly; SameSite=Strict"));
        assert_eq!(set_cookie("ab", true), format!("{COOKIE}=ab; Path=/; HttpOnly; SameSite=Strict; Secure"));
        assert!(clear_cookie(true).ends_with("Max-Age=0; Secure") && !clear_cookie(false).contains("Secure"));
    }

    #[test]
    fn the_gate_limits_failures_per_login_and_client_and_sign_ins_in_flight() {
        let store = SessionStore::default();
        for _ in 0..FAILURES_PER_LOGIN {
            store.begin_sign_in("10.0.0.1", "alice").unwrap().failed();
        }
        let wait = store.begin_sign_in("10.0.0.2", "alice").err().unwrap();
        assert!(wait > FAILURE_WINDOW - Duration::from_secs(60) && wait <= FAILURE_WINDOW, "{wait:?}");
        // Another login from the same client goes on, and its success forgives only itself.
        store.begin_sign_in("10.0.0.1", "bob").unwrap().succeeded();
        assert!(store.begin_sign_in("10.0.0.3", "alice").is_err());
        // Failures on any logins count against their client.
        for i in FAILURES_PER_LOGIN..FAILURES_PER_CLIENT {
            store.begin_sign_in("10.0.0.1", &format!("guess{i}")).unwrap().failed();
        }
        assert!(store.begin_sign_in("10.0.0.1", "carol").is_err());
        assert!(store.begin_sign_in("10.0.0.4", "carol").is_ok());
        // In flight: a client's running sign-ins are capped, and a finished one frees its slot.
        let held: Vec<_> = (0..SIGN_INS_IN_FLIGHT_PER_CLIENT)
            .map(|i| store.begin_sign_in("10.0.0.5", &format!("dave{i}")).unwrap())
            .collect();
        assert_eq!(store.begin_sign_in("10.0.0.5", "dave").err(), Some(Duration::from_secs(1)));
        drop(held);
        assert!(store.begin_sign_in("10.0.0.5", "dave").is_ok());
        assert_eq!(store.gate().in_flight, 0);
    }

    #[test]
    fn one_sign_in_per_login_runs_at_once() {
        let store = SessionStore::default();
        let running = store.begin_sign_in("10.0.0.1", "erin").unwrap();
        assert_eq!(store.begin_sign_in("10.0.0.2", "erin").err(), Some(Duration::from_secs(1)));
        assert!(store.begin_sign_in("10.0.0.2", "frank").is_ok());
        running.failed();
        // Its failure counts before the next one runs.
        assert!(store.begin_sign_in("10.0.0.2", "erin").is_ok());
        assert_eq!(store.gate().failures_by_login["erin"].len(), 1);
        assert!(store.gate().in_flight_logins.is_empty());
    }

    #[test]
    fn ipv6_clients_are_their_64_and_mapped_ipv4_is_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_bucket(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(client_bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
        assert_ne!(client_bucket(ip("2001:db8:1:3::1")), client_bucket(ip("2001:db8:1:2::1")));
        assert_eq!(client_bucket(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(client_bucket(ip("192.0.2.7")), "192.0.2.7");
        assert_eq!(client_key(None, &HeaderMap::new(), &[]), "unknown");
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<ProxyNet> =
            ["127.0.0.1", "10.1.0.0/16", "fd00::/8"].iter().map(|s| s.parse().unwrap()).collect();
        let xff = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        let from_proxy = |h: &HeaderMap| client_key(Some(ip("127.0.0.1")), h, &trusted);
        assert_eq!(from_proxy(&xff(&["203.0.113.7"])), "203.0.113.7");
        // The right-most untrusted hop: what the client wrote on the left is not believed.
        assert_eq!(from_proxy(&xff(&["198.51.100.1, 203.0.113.7, 10.1.2.3"])), "203.0.113.7");
        assert_eq!(from_proxy(&xff(&["198.51.100.1", "203.0.113.7:4711"])), "203.0.113.7");
        assert_eq!(from_proxy(&xff(&["2001:db8::5, fd00::1"])), "2001:db8::/64");
        // Malformed, absent, or only trusted hops: the peer.
        assert_eq!(from_proxy(&xff(&["203.0.113.7, not-an-address"])), "127.0.0.1");
        assert_eq!(from_proxy(&xff(&[])), "127.0.0.1");
        assert_eq!(from_proxy(&xff(&["10.1.0.9"])), "127.0.0.1");
        // From a peer that is no trusted proxy the header is ignored.
        assert_eq!(client_key(Some(ip("192.0.2.1")), &xff(&["203.0.113.7"]), &trusted), "192.0.2.1");
        assert_eq!(client_key(Some(ip("203.0.113.9")), &xff(&["127.0.0.1"]), &[]), "203.0.113.9");
        // Parsing: addresses and networks; nonsense is refused.
        assert!("10.0.0.0/33".parse::<ProxyNet>().is_err());
        assert!("proxy.example".parse::<ProxyNet>().is_err());
        assert!("0.0.0.0/0".parse::<ProxyNet>().unwrap().contains(ip("8.8.8.8")));
        assert!(!"10.1.0.0/16".parse::<ProxyNet>().unwrap().contains(ip("10.2.0.1")));
        assert!("::ffff:127.0.0.1".parse::<ProxyNet>().unwrap().contains(ip("127.0.0.1")));
    }

    #[test]
    fn the_failure_maps_are_capped_and_pruned_at_most_once_a_second() {
        let mut gate = Gate::default();
        let start = Instant::now();
        for i in 0..MAX_GATE_KEYS {
            gate.record_failure(&format!("login{i}"), &format!("client{i}"), start);
        }
        // Every key is still in the window: a new key drops the oldest-expiring one.
        let later = start + Duration::from_secs(1);
        gate.record_failure("login0", "client-new", later);
        gate.record_failure("login-new", "client-new", later);
        assert_eq!(gate.failures_by_login.len(), MAX_GATE_KEYS);
        assert_eq!(gate.failures_by_client.len(), MAX_GATE_KEYS);
        assert_eq!(gate.failures_by_login["login0"].len(), 2, "a key with a newer failure stays");
        assert_eq!(gate.failures_by_client["client-new"].len(), 2);
        assert_eq!(gate.last_prune, Some(later), "pruned (nothing had expired), a second after the last time");
        // Past the window the map is pruned, but not again within a second.
        let expired = start + FAILURE_WINDOW + Duration::from_secs(2);
        gate.record_failure("x", "y", expired);
        assert_eq!(gate.last_prune, Some(expired));
        assert_eq!(gate.failures_by_login.keys().collect::<Vec<_>>(), ["x"]);
        for i in 0..PRUNE_ABOVE + 1 {
            gate.record_failure(&format!("again{i}"), "y", expired);
        }
        gate.record_failure("z", "y", expired + Duration::from_millis(500));
        assert_eq!(gate.last_prune, Some(expired));
    }
}
