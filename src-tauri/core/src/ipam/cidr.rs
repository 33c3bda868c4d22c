//! Addresses and CIDR blocks as the user types them, checked before they reach SQL.
//!
//! PostgreSQL would guess a classful mask for a `cidr` without a length (`10.0.0.0` becomes
//! `10.0.0.0/8`) and rejects host bits with a terse message; parsing here gives every
//! input an explicit length and a sentence that says what to type instead.
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A network block: an address with no bits set past its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    /// The block of length `len` starting at `addr`, refusing host bits.
    pub fn new(addr: IpAddr, len: u8) -> Result<Cidr> {
        let max = max_len(addr);
        if len > max {
            return Err(Error::invalid(format!("/{len} is too long for {addr}: the longest is /{max}")));
        }
        let network = network_of(addr, len);
        if network != addr {
            return Err(Error::invalid(format!("{addr}/{len} has host bits set: the network is {network}/{len}")));
        }
        Ok(Cidr { addr, len })
    }

    /// A single address as a block (/32 or /128).
    pub fn host(addr: IpAddr) -> Cidr {
        Cidr { addr, len: max_len(addr) }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length (a block is never empty, so there is no `is_empty`).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u8 {
        self.len
    }

    /// The longest prefix length of this block's family (32 or 128).
    pub fn max_len(&self) -> u8 {
        max_len(self.addr)
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Every block holding this one, itself included, shortest first: /0 up to its own length.
    pub fn supernets(&self) -> impl Iterator<Item = Cidr> + '_ {
        (0..=self.len).map(|len| Cidr { addr: network_of(self.addr, len), len })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Cidr {
    type Err = Error;

    /// `10.0.0.0/24`, `2001:db8::/48`; the length is required.
    fn from_str(s: &str) -> Result<Cidr> {
        let s = s.trim();
        let Some((addr, len)) = s.split_once('/') else {
            return Err(Error::invalid(format!(
                "\"{s}\" has no prefix length: write it as a block, e.g. 10.0.0.0/24 or 2001:db8::/64"
            )));
        };
        let addr = parse_address(addr)?;
        let len: u8 = len
            .parse()
            .map_err(|_| Error::invalid(format!("\"{s}\": the prefix length must be a number from 0 to 128")))?;
        Cidr::new(addr, len)
    }
}

/// One IPv4 or IPv6 address.
pub fn parse_address(s: &str) -> Result<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>().map_err(|_| Error::invalid(format!("\"{s}\" is not an IPv4 or IPv6 address")))
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn network_of(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            IpAddr::V6((bits & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supernets_run_from_the_whole_space_to_the_block() {
        let host = Cidr::host("10.37.101.13".parse().unwrap());
        let nets: Vec<String> = host.supernets().map(|c| c.to_string()).collect();
        assert_eq!(nets.len(), 33);
        assert_eq!(nets[0], "0.0.0.0/0");
        assert_eq!(nets[8], "10.0.0.0/8");
        assert_eq!(nets[24], "10.37.101.0/24");
        assert_eq!(nets[31], "10.37.101.12/31");
        assert_eq!(nets[32], "10.37.101.13/32");
        let v6: Vec<Cidr> = "2001:db8::/32".parse::<Cidr>().unwrap().supernets().collect();
        assert_eq!(v6.len(), 33);
        assert_eq!(v6[16].to_string(), "2001::/16");
        assert_eq!(Cidr::host("::1".parse().unwrap()).supernets().count(), 129);
    }

    #[test]
    fn blocks_parse_with_their_length() {
        assert_eq!("10.0.0.0/24".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/24");
        assert_eq!(" 2001:db8::/48 ".parse::<Cidr>().unwrap().to_string(), "2001:db8::/48");
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap().len(), 0);
        assert_eq!("::/0".parse::<Cidr>().unwrap().len(), 0);
        assert_eq!("10.0.0.1/32".parse::<Cidr>().unwrap().max_len(), 32);
        assert_eq!("2001:db8::1/128".parse::<Cidr>().unwrap().max_len(), 128);
    }

    #[test]
    fn bad_blocks_say_what_to_type() {
        let e = "10.0.0.5/24".parse::<Cidr>().unwrap_err();
        assert!(e.message.contains("network is 10.0.0.0/24"), "{e}");
        let e = "10.0.0.0".parse::<Cidr>().unwrap_err();
        assert!(e.message.contains("no prefix length"), "{e}");
        let e = "10.0.0.0/33".parse::<Cidr>().unwrap_err();
        assert!(e.message.contains("longest is /32"), "{e}");
        let e = "10.0.0/24".parse::<Cidr>().unwrap_err();
        assert!(e.message.contains("not an IPv4 or IPv6 address"), "{e}");
        assert!("2001:db8::1/64".parse::<Cidr>().is_err());
    }
}
