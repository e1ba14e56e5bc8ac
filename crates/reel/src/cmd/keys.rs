use crate::ui;
use anyhow::{bail, Context};
use reel_format::package::{keygen as make_keys, sign_package};
use std::path::PathBuf;
use std::process::ExitCode;

/// Make an ed25519 key pair for signing packages: PREFIX.key (secret, mode 0600) and PREFIX.pub.
///
/// Example:
///   reel keygen -o team && reel sign session.reel.zip --key team.key && reel verify session.reel.zip --key team.pub
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct KeygenArgs {
    /// Path prefix of the two files.
    #[arg(short, long, default_value = "reel")]
    output: PathBuf,
}

pub fn keygen(a: KeygenArgs) -> anyhow::Result<ExitCode> {
    let secret = a.output.with_extension("key");
    let public = a.output.with_extension("pub");
    for p in [&secret, &public] {
        if p.exists() {
            bail!(
                "{}: already exists; refusing to overwrite a key",
                p.display()
            );
        }
    }
    let kp = make_keys();
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    use std::io::Write;
    o.open(&secret)
        .and_then(|mut f| f.write_all(kp.secret_text.as_bytes()))
        .with_context(|| format!("{}: cannot write", secret.display()))?;
    std::fs::write(&public, &kp.public_text)
        .with_context(|| format!("{}: cannot write", public.display()))?;
    eprintln!(
        "wrote {} (secret: keep it safe) and {} (share it with whoever verifies)",
        secret.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Sign a package (ed25519 over manifest.json, which lists every entry's sha256).
///
/// Example:
///   reel sign session.reel.zip --key team.key
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SignArgs {
    file: PathBuf,
    /// Secret key from `reel keygen`.
    #[arg(long)]
    key: PathBuf,
    /// Write the signed package here instead of replacing FILE.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn sign(a: SignArgs) -> anyhow::Result<ExitCode> {
    let key = super::secret_key(&a.key)?;
    let input = std::fs::File::open(&a.file)
        .with_context(|| format!("{}: cannot open", a.file.display()))?;
    let out = a.output.clone().unwrap_or_else(|| a.file.clone());
    ui::write_atomic(&out, |f| {
        sign_package(
            std::io::BufReader::new(input),
            std::io::BufWriter::new(f),
            &key,
            a.limits.limits(),
        )?;
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
    eprintln!("signed {}", out.display());
    Ok(ExitCode::SUCCESS)
}
