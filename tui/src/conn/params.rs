//! libpq connection strings: `key=value` pairs and `postgresql://` URLs,
//! read into keyword/value pairs. The `postgres` crate parses both too, but
//! it refuses the keywords it does not know (`sslrootcert`, `service`,
//! `verify-full`, ...), so the console reads them first and hands the crate
//! only what it knows.

use std::collections::BTreeMap;

/// Keyword -> value; a keyword given twice keeps its last value (libpq).
pub type Params = BTreeMap<String, String>;

/// Either form; the error says what is wrong, never the text (it may hold a
/// password).
pub fn parse(text: &str) -> Result<Params, String> {
    let t = text.trim_start();
    for scheme in ["postgresql://", "postgres://"] {
        if let Some(rest) = t.strip_prefix(scheme) {
            return parse_url(rest);
        }
    }
    parse_keywords(t)
}

fn parse_keywords(text: &str) -> Result<Params, String> {
    let mut out = Params::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!(
                "missing \"=\" after \"{}\" in the connection string",
                crate::text::clean(&key)
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(format!(
                            "unterminated quoted value for \"{}\" in the connection string",
                            crate::text::clean(&key)
                        ))
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.insert(key, value);
    }
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("invalid percent-encoding in the connection URL")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the connection URL does not decode to UTF-8".to_owned())
}

/// `[user[:password]@][host[:port][,...]][/dbname][?key=value&...]`
fn parse_url(rest: &str) -> Result<Params, String> {
    let mut out = Params::new();
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (netloc, db) = main.split_once('/').unwrap_or((main, ""));
    let hostlist = match netloc.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                out.insert("user".into(), decode(user)?);
            }
            if let Some(p) = password {
                out.insert("password".into(), decode(p)?);
            }
            hosts
        }
        None => netloc,
    };
    if !hostlist.is_empty() {
        let (mut hosts, mut ports) = (Vec::new(), Vec::new());
        for spec in hostlist.split(',') {
            let (host, port) = if let Some(v6) = spec.strip_prefix('[') {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or("unterminated [IPv6 address] in the connection URL")?;
                (h, after.strip_prefix(':').unwrap_or(""))
            } else {
                spec.split_once(':').unwrap_or((spec, ""))
            };
            hosts.push(decode(host)?);
            ports.push(decode(port)?);
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            out.insert("host".into(), hosts.join(","));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            out.insert("port".into(), ports.join(","));
        }
    }
    if !db.is_empty() {
        out.insert("dbname".into(), decode(db)?);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            format!(
                "missing \"=\" in the connection URL's parameter \"{}\"",
                crate::text::clean(pair)
            )
        })?;
        let (k, v) = (decode(k)?, decode(v)?);
        // libpq takes JDBC's ssl=true as sslmode=require.
        if k == "ssl" && v == "true" {
            out.insert("sslmode".into(), "require".into());
        } else {
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// A keyword/value string the `postgres` crate parses back.
pub fn to_keywords(params: &Params) -> String {
    params
        .iter()
        .map(|(k, v)| {
            let v = v.replace('\\', "\\\\").replace('\'', "\\'");
            format!("{k}='{v}'")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_quotes_and_escapes() {
        let p =
            parse("host=h  port = 5433 password='a b\\'c' sslmode=verify-full x=y\\ z").unwrap();
        assert_eq!(p["host"], "h");
        assert_eq!(p["port"], "5433");
        assert_eq!(p["password"], "a b'c");
        assert_eq!(p["sslmode"], "verify-full");
        assert_eq!(p["x"], "y z");
        assert!(parse("host").unwrap_err().contains("missing \"=\""));
        let e = parse("password='secret").unwrap_err();
        assert!(e.contains("unterminated") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn urls() {
        let p = parse("postgresql://al%40ice:p%3Aw@h1:6000,[::1]:6001/my%20db?sslmode=require&sslrootcert=/ca.pem").unwrap();
        assert_eq!(p["user"], "al@ice");
        assert_eq!(p["password"], "p:w");
        assert_eq!(p["host"], "h1,::1");
        assert_eq!(p["port"], "6000,6001");
        assert_eq!(p["dbname"], "my db");
        assert_eq!(p["sslmode"], "require");
        assert_eq!(p["sslrootcert"], "/ca.pem");
        let p = parse("postgres://h/db").unwrap();
        assert!(!p.contains_key("port") && !p.contains_key("user"));
        assert_eq!(
            parse("postgresql://h?ssl=true").unwrap()["sslmode"],
            "require"
        );
    }

    #[test]
    fn keywords_round_trip() {
        let p = parse("host=a options='-c x=1'").unwrap();
        assert_eq!(parse(&to_keywords(&p)).unwrap(), p);
        let p = parse("password='o\\'k\\\\'").unwrap();
        assert_eq!(parse(&to_keywords(&p)).unwrap(), p);
    }
}
