//! The console says the workspace's version, the one its package and the
//! extension's control file carry.

use std::process::Command;

#[test]
fn the_console_says_the_workspace_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_tokens-console"))
        .arg("--version")
        .output()
        .expect("tokens-console --version");
    assert!(out.status.success());
    let workspace = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .expect("the workspace's Cargo.toml");
    let version = workspace
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("a version line");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tokens-console {version}")
    );
}
