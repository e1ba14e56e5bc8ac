//! Embeds the browser code (web/player, web/recorder) into the binary: one table of
//! (URL path, bytes) generated from the files present at build time.
use std::fmt::Write;
use std::path::Path;

fn main() {
    // Read at run time: `env!` would bake in the folder the build script was compiled in, and a
    // target directory copied to another checkout would then embed the other checkout's files.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let web = Path::new(&dir).join("../../web");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut table = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (dir, url) in [
        ("player", "/player/"),
        ("recorder", "/static/"),
        ("ui", "/ui/"),
    ] {
        let d = web.join(dir);
        println!("cargo:rerun-if-changed={}", d.display());
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            let served = matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("js" | "mjs" | "css" | "html" | "svg")
            );
            if !f.is_file() || !served {
                continue;
            }
            println!("cargo:rerun-if-changed={}", f.display());
            let _ = writeln!(
                table,
                "    ({:?}, include_bytes!({:?})),",
                format!("{url}{name}"),
                f.display().to_string()
            );
        }
    }
    table.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("assets.rs");
    std::fs::write(out, table).expect("write assets.rs");
}
