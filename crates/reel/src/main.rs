//! `reel`: the command line. Thin over the library crates: parse flags, call, print.
#![forbid(unsafe_code)]
mod cmd;
mod ui;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: importing many recordings allocates and frees
/// millions of strings across threads, and glibc's malloc kept up to 170 MB of that freed memory
/// when packing 500 MB (mimalloc: flat; see bench/RESULTS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reel: portable session replay.
///
/// Recordings (rrweb events) live in `.reel.zip` packages: a ZIP with a manifest, one JSONL file
/// per browser window, SHA-256 checksums and an optional signature. Any tool (or a 30-line Python
/// script) can read them. See docs/format.md.
#[derive(Parser)]
#[command(
    name = "reel",
    version,
    about,
    long_about,
    propagate_version = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    Serve(Box<cmd::serve::Args>),
    Push(cmd::remote::PushArgs),
    Pull(cmd::remote::PullArgs),
    Export(cmd::export::Args),
    Play(cmd::export::PlayArgs),
    Pack(cmd::pack::Args),
    Assets(cmd::assets::Args),
    Verify(cmd::verify::Args),
    Inspect(cmd::inspect::Args),
    Moments(cmd::moments::Args),
    Parquet(cmd::parquet::Args),
    Convert(cmd::convert::Args),
    Unpack(cmd::unpack::Args),
    Keygen(cmd::keys::KeygenArgs),
    Sign(cmd::keys::SignArgs),
    Redact(cmd::redact::Args),
    Dom(cmd::dom::Args),
    Screenshot(cmd::screenshot::Args),
    Video(cmd::video::Args),
    Import(cmd::import::Args),
}

/// Exit status when stdout was closed by its reader (`reel inspect x | head -1`): quiet, no
/// message, the status a shell reports for a writer stopped by SIGPIPE (128 + 13).
const CLOSED_STDOUT: u8 = 141;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Command::Serve(a) => cmd::serve::run(*a),
        Command::Push(a) => cmd::remote::push(a),
        Command::Pull(a) => cmd::remote::pull(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Play(a) => cmd::export::play(a),
        Command::Pack(a) => cmd::pack::run(a),
        Command::Assets(a) => cmd::assets::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Moments(a) => cmd::moments::run(a),
        Command::Parquet(a) => cmd::parquet::run(a),
        Command::Convert(a) => cmd::convert::run(a),
        Command::Unpack(a) => cmd::unpack::run(a),
        Command::Keygen(a) => cmd::keys::keygen(a),
        Command::Sign(a) => cmd::keys::sign(a),
        Command::Redact(a) => cmd::redact::run(a),
        Command::Dom(a) => cmd::dom::run(a),
        Command::Screenshot(a) => cmd::screenshot::run(a),
        Command::Video(a) => cmd::video::run(a),
        Command::Import(a) => cmd::import::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) if ui::is_broken_pipe(&e) => ExitCode::from(CLOSED_STDOUT),
        Err(e) => {
            ui::error(&e);
            ExitCode::from(1)
        }
    }
}

/// Every command writes stdout through fallible writes whose broken-pipe error ends the command
/// quietly (above). This hook is the safety net for a `print!` outside those paths (a library, a
/// callback): std panics on a closed stdout, and that panic becomes the same quiet exit instead
/// of a backtrace and exit 101.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(CLOSED_STDOUT.into());
        }
        default(info);
    }));
}
