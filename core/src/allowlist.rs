//! IP allowlists: which client addresses a token accepts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::error::{Error, Result};

pub const ALLOWLIST_MAX: usize = 64;

/// Whether a client at `client` may use a token restricted to `allowed`
/// (networks as PostgreSQL prints cidr values). A connection over a Unix
/// socket has no address: it passes only when the list admits the loopback
/// address, 127.0.0.1 or ::1 (or a network holding one).
pub fn permits(allowed: &[String], client: Option<IpAddr>) -> bool {
    let nets: Vec<IpNet> = allowed.iter().filter_map(|n| network(n)).collect();
    let admits = |ip: IpAddr| nets.iter().any(|net| net.contains(&ip));
    match client {
        None => admits(IpAddr::V4(Ipv4Addr::LOCALHOST)) || admits(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            // An IPv4 client seen through an IPv6 socket is judged as IPv4.
            Some(v4) => admits(IpAddr::V4(v4)) || admits(IpAddr::V6(v6)),
            None => admits(IpAddr::V6(v6)),
        },
        Some(ip) => admits(ip),
    }
}

/// An allowlist argument: NULL clears it, else 1 to 64 networks, none NULL.
pub fn allowed_ips(value: Option<&[Option<String>]>) -> Result<Option<Vec<String>>> {
    let Some(items) = value else { return Ok(None) };
    if items.is_empty() {
        return Err(Error::invalid("allowed", 
            "allowed must hold 1 to 64 networks; pass NULL (not an empty array) to remove the allowlist",
        ));
    }
    if items.len() > ALLOWLIST_MAX {
        return Err(Error::invalid(
            "allowed",
            format!(
                "allowed may hold at most {ALLOWLIST_MAX} networks (got {}); use wider networks",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.clone().ok_or_else(|| {
                Error::invalid(
                    "allowed",
                    format!(
                        "network {} is NULL: every entry must be a cidr such as 10.0.0.0/8",
                        i + 1
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .enumerate()
        .map(|(i, n)| match network(&n) {
            Some(net) if net.trunc() == net => Ok(n),
            _ => Err(Error::invalid(
                "allowed",
                format!(
                "network {} is not a network in cidr form: give an address and a prefix length \
                 with no bits set right of the mask, such as 10.0.0.0/8 or 2001:db8::/32",
                i + 1
            ),
            )),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A network as PostgreSQL prints cidr values ("10.0.0.0/8", or a bare
/// address for a host network).
fn network(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn networks_admit_their_addresses() {
        let l = list(&["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"]);
        assert!(permits(&l, Some("10.1.2.3".parse().unwrap())));
        assert!(permits(&l, Some("192.168.1.7".parse().unwrap())));
        assert!(!permits(&l, Some("192.168.1.8".parse().unwrap())));
        assert!(permits(&l, Some("2001:db8::1".parse().unwrap())));
        assert!(!permits(&l, Some("2001:db9::1".parse().unwrap())));
        assert!(
            permits(&l, Some("::ffff:10.9.9.9".parse().unwrap())),
            "v4-mapped"
        );
    }

    #[test]
    fn a_unix_socket_needs_loopback_in_the_list() {
        assert!(!permits(&list(&["10.0.0.0/8"]), None));
        assert!(permits(&list(&["127.0.0.1/32"]), None));
        assert!(permits(&list(&["127.0.0.0/8"]), None));
        assert!(permits(&list(&["::1/128"]), None));
        assert!(permits(&list(&["0.0.0.0/0"]), None));
        assert!(!permits(&list(&["127.0.0.2/32"]), None));
        assert!(
            permits(&list(&["127.0.0.1"]), None),
            "a host without a mask"
        );
    }

    #[test]
    fn networks_must_be_cidr_values() {
        for bad in ["10.0.0.0/33", "10.0.0.1/8", "not a network", "::1/129", ""] {
            let e = allowed_ips(Some(&[Some(bad.to_owned())])).unwrap_err();
            assert_eq!(e.sqlstate().code(), "22023", "{bad}");
        }
        for good in [
            "10.0.0.0/8",
            "127.0.0.1/32",
            "::1/128",
            "2001:db8::/32",
            "192.168.1.7",
        ] {
            assert!(
                allowed_ips(Some(&[Some(good.to_owned())])).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn arguments() {
        assert_eq!(allowed_ips(None).unwrap(), None);
        assert!(allowed_ips(Some(&[])).is_err());
        assert!(allowed_ips(Some(&[Some("10.0.0.0/8".into()), None])).is_err());
        let many: Vec<Option<String>> = (0..65).map(|i| Some(format!("10.0.{i}.0/24"))).collect();
        assert!(allowed_ips(Some(&many)).is_err());
        assert_eq!(allowed_ips(Some(&many[..64])).unwrap().unwrap().len(), 64);
    }
}
