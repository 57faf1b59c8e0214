//! `service=name`: the settings of a section of `pg_service.conf`, looked
//! up as libpq does: `PGSERVICEFILE` or `~/.pg_service.conf` first, then
//! `PGSYSCONFDIR/pg_service.conf`.

use std::path::PathBuf;

use super::params::Params;
use super::Env;

/// Where libpq's Debian build looks when `PGSYSCONFDIR` is not set.
const SYSCONFDIR: &str = "/etc/postgresql-common";

/// The files searched for a service, in order.
pub fn service_files(env: &dyn Env) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(f) = env.var("PGSERVICEFILE") {
        files.push(PathBuf::from(f));
    } else if let Some(home) = env.var("HOME") {
        files.push(PathBuf::from(home).join(".pg_service.conf"));
    }
    let sys = env.var("PGSYSCONFDIR").unwrap_or_else(|| SYSCONFDIR.into());
    files.push(PathBuf::from(sys).join("pg_service.conf"));
    files
}

/// The settings of `name`, from the first file that defines it.
pub fn lookup(name: &str, env: &dyn Env) -> Result<Params, String> {
    let files = service_files(env);
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Some(found) = section(&text, name)
            .map_err(|e| format!("{}: {e}", crate::text::clean(&file.display().to_string())))?
        {
            return Ok(found);
        }
    }
    let looked: Vec<String> = files
        .iter()
        .map(|f| format!("\"{}\"", crate::text::clean(&f.display().to_string())))
        .collect();
    Err(format!(
        "definition of service \"{}\" not found (looked in {})",
        crate::text::clean(name),
        looked.join(", ")
    ))
}

/// The `[name]` section of a service file's text, if it has one.
pub fn section(text: &str, name: &str) -> Result<Option<Params>, String> {
    let mut current: Option<&str> = None;
    let mut found: Option<Params> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(sec) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            current = Some(sec.strip_suffix(']').unwrap_or(sec).trim());
            if current == Some(name) {
                found = Some(Params::new());
            }
            continue;
        }
        if current != Some(name) {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("syntax error in service file, line {}", n + 1));
        };
        let k = k.trim();
        if k == "service" {
            return Err(format!(
                "nested service specifications not supported, line {}",
                n + 1
            ));
        }
        if let Some(p) = found.as_mut() {
            p.insert(k.to_owned(), v.trim().to_owned());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FILE: &str = "# services\n[other]\nhost=nope\n\n[app]\nhost = db.internal\nport=6432\nsslmode=verify-full\n[last]\nuser=x\n";

    #[test]
    fn sections() {
        let p = section(FILE, "app").unwrap().unwrap();
        assert_eq!(p["host"], "db.internal");
        assert_eq!(p["port"], "6432");
        assert_eq!(p["sslmode"], "verify-full");
        assert!(!p.contains_key("user"));
        assert_eq!(section(FILE, "missing").unwrap(), None);
        assert!(section("[a]\nbroken\n", "a")
            .unwrap_err()
            .contains("line 2"));
    }

    #[test]
    fn file_order_and_missing_service() {
        let dir = std::env::temp_dir().join(format!("tokens-console-svc-{}", std::process::id()));
        let sys = dir.join("sys");
        std::fs::create_dir_all(&sys).unwrap();
        std::fs::write(dir.join("user.conf"), "[a]\nport=1\n").unwrap();
        std::fs::write(sys.join("pg_service.conf"), "[a]\nport=2\n[b]\nport=3\n").unwrap();
        let user = dir.join("user.conf").display().to_string();
        let sysdir = sys.display().to_string();
        let env = HashMap::from([
            ("PGSERVICEFILE", user.as_str()),
            ("PGSYSCONFDIR", sysdir.as_str()),
        ]);
        assert_eq!(lookup("a", &env).unwrap()["port"], "1");
        assert_eq!(lookup("b", &env).unwrap()["port"], "3");
        let e = lookup("c", &env).unwrap_err();
        assert!(
            e.contains("\"c\" not found") && e.contains("user.conf"),
            "{e}"
        );
        // without PGSERVICEFILE: ~/.pg_service.conf
        let home = dir.display().to_string();
        std::fs::write(dir.join(".pg_service.conf"), "[a]\nport=9\n").unwrap();
        let env = HashMap::from([("HOME", home.as_str()), ("PGSYSCONFDIR", sysdir.as_str())]);
        assert_eq!(lookup("a", &env).unwrap()["port"], "9");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
