//! The leaks subcommand: a text checked by `tokens.find_leaked`.

use super::*;

/// The text to check, read whole into a buffer that is wiped when dropped.
pub(super) fn read_text(file: Option<&std::path::Path>) -> Result<Secret, DbError> {
    use std::io::Read;
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    match file {
        Some(path) => {
            let mut f = std::fs::File::open(path).map_err(|e| {
                DbError::Client(format!(
                    "cannot read {}: {e}",
                    clean(&path.display().to_string())
                ))
            })?;
            // Read into a buffer of the right size: a growing one would
            // leave unwiped copies behind.
            let len = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
            bytes.reserve_exact(len.saturating_add(1));
            f.read_to_end(&mut bytes)
        }
        None => {
            use std::io::IsTerminal;
            if io::stdin().is_terminal() {
                eprintln!(
                    "tokens-console: reading the text to check from stdin; end it with Ctrl-D"
                );
            }
            io::stdin().lock().read_to_end(&mut bytes)
        }
    }
    .map_err(|e| DbError::Client(format!("cannot read the text to check: {e}")))?;
    // Not UTF-8 (a binary log): each bad byte becomes U+FFFD, which no
    // token contains, so the tokens in it are still found.
    Ok(Secret::new(String::from_utf8_lossy(&bytes).into_owned()))
}

pub(super) fn leaks(
    client: &mut Client,
    file: Option<&std::path::Path>,
    json: bool,
) -> Result<(), DbError> {
    let text = read_text(file)?;
    let rows = queries::find_leaked(client, &text)?;
    drop(text);
    if json {
        return out(serde_json::to_string(&rows).map_err(|e| DbError::Client(e.to_string()))?);
    }
    out(format!(
        "{:<12}  {:<8}  {:<20}  {:<30}  {}",
        "PREFIX", "STATUS", "OWNER", "NAME", "ID"
    ))?;
    for r in &rows {
        out(format!(
            "{:<12}  {:<8}  {:<20}  {:<30}  {}",
            clean(&r.prefix),
            clean(&r.status),
            crate::text::fit(&clean(r.owner.as_deref().unwrap_or("-")), 20),
            crate::text::fit(&clean(r.name.as_deref().unwrap_or("-")), 30),
            r.token_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into())
        ))?;
    }
    let live = rows.iter().filter(|r| r.status == "active").count();
    eprintln!(
        "{} token{} found, {live} active{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if live > 0 {
            " (revoke them for their owners with the console's leak screen, key 3, or `revoke ID --actor OWNER --reason leak`)"
        } else {
            ""
        }
    );
    Ok(())
}
