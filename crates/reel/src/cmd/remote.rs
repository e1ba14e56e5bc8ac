use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Upload a package (or any file `reel pack` accepts) to a Reel server.
///
/// Example:
///   reel push session.reel.zip --server http://127.0.0.1:8080 --token $REEL_ADMIN_TOKEN
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct PushArgs {
    file: PathBuf,
    /// Server URL.
    #[arg(long, env = "REEL_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Admin token.
    #[arg(long, env = "REEL_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
    /// Print the server's JSON reply.
    #[arg(long)]
    json: bool,
}

/// Download a session from a Reel server as a .reel.zip package.
///
/// Example:
///   reel pull 0191… --server http://127.0.0.1:8080 --token $REEL_ADMIN_TOKEN -o session.reel.zip
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct PullArgs {
    session: String,
    #[arg(long, env = "REEL_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    #[arg(long, env = "REEL_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(short, long)]
    output: PathBuf,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub(crate) fn fail(server: &str, status: u16, body: &str) -> anyhow::Error {
    let explained = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
    // The server's own message already says what to do; a hint only for bare answers.
    let hint = match (status, &explained) {
        (401, _) => " (check --token: it must be the admin token)",
        (403, None) => " (that is the capture token; use the admin token)",
        _ => "",
    };
    let msg = explained.unwrap_or_else(|| body.chars().take(200).collect());
    anyhow::anyhow!("{server}: HTTP {status}: {msg}{hint}")
}

pub fn push(a: PushArgs) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("{}: cannot read", a.file.display()))?;
    let url = format!("{}/api/v1/import", a.server.trim_end_matches('/'));
    let mut res = agent()
        .post(&url)
        .header("Authorization", &format!("Bearer {}", a.token))
        .header("Content-Type", "application/octet-stream")
        .send(&bytes[..])
        .with_context(|| format!("{}: cannot reach the server", a.server))?;
    let status = res.status().as_u16();
    let body = res.body_mut().read_to_string().unwrap_or_default();
    if status != 200 {
        return Err(fail(&a.server, status, &body));
    }
    if a.json {
        crate::outln!("{body}")?;
    } else {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        eprintln!(
            "pushed {} ({}): {} session(s), {} events",
            a.file.display(),
            v["kind"].as_str().unwrap_or("?"),
            v["sessions"].as_array().map(|s| s.len()).unwrap_or(0),
            v["events"]
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn pull(a: PullArgs) -> anyhow::Result<ExitCode> {
    let url = format!(
        "{}/api/v1/sessions/{}/export",
        a.server.trim_end_matches('/'),
        a.session
    );
    let mut res = agent()
        .get(&url)
        .header("Authorization", &format!("Bearer {}", a.token))
        .call()
        .with_context(|| format!("{}: cannot reach the server", a.server))?;
    let status = res.status().as_u16();
    if status != 200 {
        let body = res.body_mut().read_to_string().unwrap_or_default();
        return Err(fail(&a.server, status, &body));
    }
    let bytes = res
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .context("reading the package")?;
    crate::ui::write_atomic(&a.output, |f| {
        use std::io::Write;
        f.write_all(&bytes)?;
        Ok(())
    })?;
    eprintln!(
        "pulled {} into {} ({} bytes)",
        a.session,
        a.output.display(),
        bytes.len()
    );
    Ok(ExitCode::SUCCESS)
}
