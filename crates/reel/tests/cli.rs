//! End-to-end tests of the `reel` binary on the real fixtures: round trips, agreement with
//! standard tools (`unzip`, `sha256sum`, Python), tampering, hostile input and signatures.
//!
//! Every run gets `TMPDIR` inside its scratch folder, so a temporary file left behind shows up.
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REEL: &str = env!("CARGO_BIN_EXE_reel");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

const RRWEB: [&str; 3] = ["checkout", "swagger", "shoelace"];
const WIRE_RUNS: [&str; 4] = [
    "checkout",
    "checkout-uncompressed",
    "checkout-minimal-config",
    "shoelace",
];

fn rrweb_fixture(name: &str) -> PathBuf {
    fixtures().join(format!("rrweb/{name}.json"))
}

/// The `/s/` bodies of one recorded posthog-js run, in request order.
fn wire_bodies(run: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("posthog-wire").join(run))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-POST-s.bin"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{run}: no bodies");
    v
}

/// A scratch folder with its own TMPDIR.
struct Scratch {
    dir: tempfile::TempDir,
}

macro_rules! reel {
    ($s:expr $(, $a:expr)* $(,)?) => {
        $s.run(&[$(std::ffi::OsStr::new(&$a).to_os_string()),*])
    };
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Scratch { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn run(&self, args: &[OsString]) -> Output {
        Command::new(REEL)
            .args(args)
            .env("TMPDIR", self.path("tmp"))
            .current_dir(self.dir.path())
            .output()
            .expect("run reel")
    }

    /// The scratch folder holds exactly `names` (plus `tmp/`, which must be empty).
    fn assert_only(&self, names: &[&str]) {
        let mut got: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "tmp")
            .collect();
        got.sort();
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "unexpected files left in the folder");
        let tmp: Vec<_> = std::fs::read_dir(self.path("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(tmp.is_empty(), "temporary files left behind: {tmp:?}");
    }

    /// Pack `inputs` into `name` and return its path.
    fn pack(&self, inputs: &[PathBuf], name: &str) -> PathBuf {
        let out = self.path(name);
        let mut args: Vec<OsString> = vec!["pack".into()];
        args.extend(inputs.iter().map(|p| p.clone().into_os_string()));
        args.extend(["-o".into(), out.clone().into_os_string()]);
        ok(&self.run(&args));
        out
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "expected success, got {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// The command failed cleanly (exit 1, not a crash) with exactly one error line containing
/// every needle. Returns that line.
#[track_caller]
fn fails(o: &Output, needles: &[&str]) -> String {
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1, got {:?}\nstderr: {err}",
        o.status
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("reel: warning"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{err}");
    assert!(lines[0].starts_with("reel: error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} missing from: {}", lines[0]);
    }
    lines[0].to_string()
}

fn sorted_by_time(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|e| e["timestamp"].as_f64().unwrap().floor() as i64);
    v
}

fn json_file(p: &Path) -> Value {
    let bytes = std::fs::read(p).unwrap();
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    de.disable_recursion_limit(); // deep DOM snapshots
    serde::Deserialize::deserialize(&mut de).unwrap()
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Crafting packages: read every entry, change some, write them back (optionally re-sealing the
// manifest's sizes and hashes and SHA256SUMS so that only the intended defect remains).

type Entries = Vec<(String, Vec<u8>)>;

fn read_entries(p: &Path) -> Entries {
    let mut z = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut v).unwrap();
            (name, v)
        })
        .collect()
}

fn write_entries(p: &Path, entries: &Entries) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(p).unwrap());
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for (name, bytes) in entries {
        z.start_file(name.as_str(), o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

fn entry<'a>(e: &'a mut Entries, name: &str) -> &'a mut Vec<u8> {
    &mut e
        .iter_mut()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
        .1
}

fn manifest_of(e: &Entries) -> Value {
    serde_json::from_slice(&e.iter().find(|(n, _)| n == "manifest.json").unwrap().1).unwrap()
}

/// Recompute every listed file's size and hash, rewrite manifest.json and SHA256SUMS, drop any
/// signature: the package is consistent again.
fn reseal(e: &mut Entries, manifest: Value) {
    let mut m = manifest;
    for f in m["files"].as_array_mut().unwrap() {
        let path = f["path"].as_str().unwrap().to_string();
        if let Some((_, b)) = e.iter().find(|(n, _)| *n == path) {
            f["bytes"] = json!(b.len());
            f["sha256"] = json!(sha256_hex(b));
        }
    }
    let mbytes = serde_json::to_vec_pretty(&m).unwrap();
    let mut sums = String::new();
    for f in m["files"].as_array().unwrap() {
        sums.push_str(&format!(
            "{}  {}\n",
            f["sha256"].as_str().unwrap(),
            f["path"].as_str().unwrap()
        ));
    }
    sums.push_str(&format!("{}  manifest.json\n", sha256_hex(&mbytes)));
    e.retain(|(n, _)| n != "signature.json");
    *entry(e, "manifest.json") = mbytes;
    *entry(e, "SHA256SUMS") = sums.into_bytes();
}

fn first_window(e: &Entries) -> String {
    manifest_of(e)["sessions"][0]["windows"][0]
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn rrweb_fixtures_round_trip_through_the_cli() {
    let s = Scratch::new();
    for name in RRWEB {
        let input = rrweb_fixture(name);
        let pkg = s.pack(std::slice::from_ref(&input), &format!("{name}.reel.zip"));
        ok(&reel!(s, "verify", pkg));
        let out = s.path(&format!("{name}.out.json"));
        ok(&reel!(s, "convert", pkg, "--to", "rrweb", "-o", out));
        let want: Vec<Value> = serde_json::from_value(json_file(&input)).unwrap();
        let got: Vec<Value> = serde_json::from_value(json_file(&out)).unwrap();
        assert_eq!(got.len(), want.len(), "{name}: event count");
        assert!(
            got == sorted_by_time(want),
            "{name}: events differ after pack → convert"
        );
    }
}

#[test]
fn posthog_wire_bodies_round_trip_to_the_decoded_events() {
    let s = Scratch::new();
    for run in WIRE_RUNS {
        let pkg = s.pack(&wire_bodies(run), &format!("{run}.reel.zip"));
        ok(&reel!(s, "verify", pkg));
        let out = s.path(&format!("{run}.json"));
        ok(&reel!(s, "convert", pkg, "--to", "rrweb", "-o", out));
        let got: Vec<Value> = serde_json::from_value(json_file(&out)).unwrap();
        let want: Vec<Value> = serde_json::from_value(json_file(
            &fixtures().join(format!("posthog-wire/{run}/decoded-events.json")),
        ))
        .unwrap();
        assert_eq!(got.len(), want.len(), "{run}: event count");
        assert!(got == sorted_by_time(want), "{run}: events differ");
        assert!(got.iter().all(|e| e.get("cv").is_none()), "{run}: cv left");
    }
}

#[test]
fn posthog_export_round_trips_through_the_cli() {
    let s = Scratch::new();
    let pkg = s.pack(&[rrweb_fixture("checkout")], "a.reel.zip");
    let export = s.path("export.json");
    ok(&reel!(s, "convert", pkg, "--to", "posthog", "-o", export));
    assert_eq!(json_file(&export)["version"], "2023-04-28");
    let back = s.pack(std::slice::from_ref(&export), "b.reel.zip");
    let (a, b) = (s.path("a.json"), s.path("b.json"));
    ok(&reel!(s, "convert", pkg, "--to", "rrweb", "-o", a));
    ok(&reel!(s, "convert", back, "--to", "rrweb", "-o", b));
    assert_eq!(json_file(&a), json_file(&b));
}

// ---------------------------------------------------------------------------------------------
// Standard tools agree

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn sh(cwd: &Path, cmd: &str) -> Output {
    Command::new("sh")
        .args(["-c", cmd])
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn unzip_sha256sum_and_python_agree() {
    let s = Scratch::new();
    // Two sessions of two kinds in one package.
    let mut inputs = vec![rrweb_fixture("checkout")];
    inputs.extend(wire_bodies("shoelace"));
    let pkg = s.pack(&inputs, "two.reel.zip");

    if have("unzip") {
        let o = sh(s.dir.path(), "unzip -t two.reel.zip");
        ok(&o);
        assert!(text(&o.stdout).contains("No errors detected"));
        ok(&sh(s.dir.path(), "unzip -q two.reel.zip -d by-unzip"));
        let o = sh(&s.path("by-unzip"), "sha256sum -c --strict SHA256SUMS");
        ok(&o);
    } else {
        eprintln!("SKIPPED part: unzip is not installed");
    }

    let dir = s.path("by-reel");
    ok(&reel!(s, "unpack", pkg, "-o", dir));
    let o = sh(&dir, "sha256sum -c --strict SHA256SUMS");
    ok(&o);
    let checked = text(&o.stdout)
        .lines()
        .filter(|l| l.ends_with(": OK"))
        .count();
    let manifest = json_file(&dir.join("manifest.json"));
    assert_eq!(checked, manifest["files"].as_array().unwrap().len() + 1);

    let o = Command::new("python3")
        .arg(root().join("docs/examples/read_package.py"))
        .arg(&pkg)
        .output()
        .unwrap();
    ok(&o);
    let out = text(&o.stdout);
    for sess in manifest["sessions"].as_array().unwrap() {
        let line = format!(
            "{}: {} events",
            sess["id"].as_str().unwrap(),
            sess["event_count"]
        );
        assert!(out.contains(&line), "{line:?} not in {out}");
    }
}

#[test]
fn python_example_catches_tampering() {
    let s = Scratch::new();
    let pkg = s.pack(&[rrweb_fixture("checkout")], "a.reel.zip");
    let py = |p: &Path| {
        Command::new("python3")
            .arg(root().join("docs/examples/read_package.py"))
            .arg(p)
            .output()
            .unwrap()
    };
    ok(&py(&pkg));

    // A well-formed ZIP whose window entry changed after the manifest was written.
    let mut e = read_entries(&pkg);
    let w = first_window(&e);
    entry(&mut e, &w).extend_from_slice(b"{\"type\":5,\"data\":{},\"timestamp\":1}\n");
    let changed = s.path("changed.reel.zip");
    write_entries(&changed, &e);
    let o = py(&changed);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains(&format!("MISMATCH {w}")),
        "{}",
        text(&o.stderr)
    );

    // A flipped byte inside the compressed data.
    let flipped = s.path("flipped.reel.zip");
    let (name, bytes) = flip_inside(&std::fs::read(&pkg).unwrap(), &w);
    assert_eq!(name, w);
    std::fs::write(&flipped, bytes).unwrap();
    let o = py(&flipped);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("MISMATCH"), "{}", text(&o.stderr));
}

/// Flip one byte in the middle of the compressed data of entry `name`.
fn flip_inside(pkg: &[u8], name: &str) -> (String, Vec<u8>) {
    let mut z = zip::ZipArchive::new(Cursor::new(pkg)).unwrap();
    let i = z.index_for_name(name).unwrap();
    let f = z.by_index_raw(i).unwrap();
    let start = f.data_start().expect("data start");
    let size = f.compressed_size();
    assert!(size > 0);
    let at = (start + size / 2) as usize;
    let mut out = pkg.to_vec();
    out[at] ^= 0x55;
    (f.name().unwrap().into_owned(), out)
}

#[test]
fn one_flipped_byte_in_any_entry_fails_verify_naming_it() {
    let s = Scratch::new();
    let pkg = s.pack(&wire_bodies("checkout"), "a.reel.zip");
    let key = s.path("k");
    ok(&reel!(s, "keygen", "-o", key));
    let signed = s.path("signed.reel.zip");
    ok(&reel!(
        s,
        "sign",
        pkg,
        "--key",
        s.path("k.key"),
        "-o",
        signed
    ));
    let bytes = std::fs::read(&signed).unwrap();
    let names: Vec<String> = zip::ZipArchive::new(Cursor::new(&bytes))
        .unwrap()
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    for name in &names {
        let (_, bad) = flip_inside(&bytes, name);
        let p = s.write("bad.reel.zip", &bad);
        let o = reel!(s, "verify", p, "--key", s.path("k.pub"));
        fails(&o, &["bad.reel.zip", name]);
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: one clear line naming the file and the problem, exit 1, nothing half-written.

/// Every command that reads `input` fails with a line containing `needles` and leaves nothing.
#[track_caller]
fn every_reader_refuses(s: &Scratch, input: &Path, needles: &[&str]) {
    let name = input.file_name().unwrap().to_str().unwrap().to_string();
    let mut present: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "tmp")
        .collect();
    present.sort();
    let mut n: Vec<&str> = needles.to_vec();
    n.push(&name);
    let out = s.path("out.reel.zip");
    fails(&reel!(s, "pack", input, "-o", out), &n);
    let out = s.path("out.json");
    fails(&reel!(s, "convert", input, "--to", "rrweb", "-o", out), &n);
    fails(&reel!(s, "inspect", input), &n);
    if std::fs::read(input).unwrap().starts_with(b"PK") {
        fails(&reel!(s, "verify", input), &n);
        let out = s.path("out-dir");
        fails(&reel!(s, "unpack", input, "-o", out), &n);
    }
    let present: Vec<&str> = present.iter().map(String::as_str).collect();
    s.assert_only(&present);
}

#[test]
fn truncated_corrupt_and_random_files_are_refused() {
    let s = Scratch::new();
    let pkg = s.pack(&[rrweb_fixture("swagger")], "good.reel.zip");
    let bytes = std::fs::read(&pkg).unwrap();
    std::fs::remove_file(&pkg).unwrap();

    let t = s.write("truncated.reel.zip", &bytes[..bytes.len() / 2]);
    every_reader_refuses(&s, &t, &["not a readable ZIP"]);

    // Central directory signatures broken.
    let mut c = bytes.clone();
    for i in 0..c.len() - 4 {
        if c[i..i + 4] == *b"PK\x01\x02" {
            c[i] = b'X';
        }
    }
    let c = s.write("corrupt.reel.zip", &c);
    every_reader_refuses(&s, &c, &["not a readable ZIP"]);

    let mut x = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let r = s.write("random.bin", &random);
    let o = reel!(s, "pack", r, "-o", s.path("o.reel.zip"));
    fails(&o, &["random.bin"]);
    fails(
        &reel!(s, "verify", r),
        &["random.bin", "not a readable ZIP"],
    );
    s.assert_only(&["truncated.reel.zip", "corrupt.reel.zip", "random.bin"]);
}

fn evil_zip(
    s: &Scratch,
    name: &str,
    add: impl FnOnce(&mut zip::ZipWriter<std::fs::File>),
) -> PathBuf {
    let good = s.pack(&[rrweb_fixture("checkout")], "good.reel.zip");
    let e = read_entries(&good);
    std::fs::remove_file(&good).unwrap();
    let p = s.path(name);
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let o = zip::write::SimpleFileOptions::default();
    for (n, b) in &e {
        z.start_file(n.as_str(), o).unwrap();
        z.write_all(b).unwrap();
    }
    add(&mut z);
    z.finish().unwrap();
    p
}

#[test]
fn unpack_refuses_escaping_entries_and_writes_nothing() {
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("abs-x");
    let cases: Vec<(&str, String)> = vec![
        ("dotdot", "../x".to_string()),
        ("nested-dotdot", "sessions/../../x".to_string()),
        ("absolute", abs.display().to_string()),
        ("symlink", "link".to_string()),
    ];
    for (what, entry_name) in cases {
        let s = Scratch::new();
        let file = format!("{what}.zip");
        let en = entry_name.clone();
        let p = evil_zip(&s, &file, |z| {
            let o = zip::write::SimpleFileOptions::default();
            if what == "symlink" {
                z.add_symlink(en.as_str(), "/etc/passwd", o).unwrap();
            } else {
                z.start_file(en.as_str(), o).unwrap();
                z.write_all(b"owned").unwrap();
            }
        });
        let out = s.path("out");
        let line = fails(&reel!(s, "unpack", p, "-o", out), &[&file, "refusing"]);
        assert!(line.contains(&entry_name), "{what}: {line}");
        assert!(!out.exists(), "{what}: target folder created");
        assert!(
            !s.path("x").exists() && !abs.exists(),
            "{what}: wrote outside"
        );
        s.assert_only(&[&file]);
        // verify refuses the same entries.
        if what != "symlink" {
            fails(&reel!(s, "verify", p), &[&file, &entry_name]);
        }
    }
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
}

/// A package with one more window: `lines` copies of a tiny event (compresses ~1000:1).
fn bomb(s: &Scratch, name: &str, lines: usize) -> PathBuf {
    let good = s.pack(&[rrweb_fixture("checkout")], "good.reel.zip");
    let mut e = read_entries(&good);
    std::fs::remove_file(&good).unwrap();
    let mut m = manifest_of(&e);
    let sid = m["sessions"][0]["id"].as_str().unwrap().to_string();
    let path = format!("sessions/{sid}/windows/bomb.jsonl");
    let line = b"{\"type\":3,\"data\":{\"source\":1,\"positions\":[]},\"timestamp\":1}\n";
    let mut body = Vec::with_capacity(line.len() * lines);
    for _ in 0..lines {
        body.extend_from_slice(line);
    }
    m["sessions"][0]["windows"]
        .as_array_mut()
        .unwrap()
        .push(json!(path));
    m["files"]
        .as_array_mut()
        .unwrap()
        .push(json!({"path": path, "bytes": 0, "sha256": ""}));
    // meta.json lists it too, so that importing the package reads it.
    let meta_path = m["sessions"][0]["meta"].as_str().unwrap().to_string();
    let mut meta: Value = serde_json::from_slice(entry(&mut e, &meta_path)).unwrap();
    meta["windows"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "bomb", "path": path,
        "event_count": lines, "start_time": null, "end_time": null}));
    *entry(&mut e, &meta_path) = serde_json::to_vec_pretty(&meta).unwrap();
    e.push((path, body));
    reseal(&mut e, m);
    let p = s.path(name);
    write_entries(&p, &e);
    p
}

#[test]
fn zip_bombs_are_refused_by_default_and_caps_can_be_raised() {
    let s = Scratch::new();
    // 20 MB of event lines in ~20 KB: ratio ~1000:1, above the default 200:1.
    let p = bomb(&s, "bomb.reel.zip", 330_000);
    fails(
        &reel!(s, "verify", p),
        &[
            "bomb.reel.zip",
            "bomb.jsonl",
            "compression ratio",
            "--max-ratio",
        ],
    );
    let out = s.path("out");
    fails(
        &reel!(s, "unpack", p, "-o", out),
        &["bomb.reel.zip", "bomb.jsonl", "--max-ratio"],
    );
    fails(
        &reel!(s, "pack", p, "-o", s.path("re.reel.zip")),
        &["bomb.reel.zip", "--max-ratio"],
    );
    s.assert_only(&["bomb.reel.zip"]);

    ok(&reel!(s, "verify", "--max-ratio", "5000", p));
    ok(&reel!(s, "unpack", "--max-ratio", "5000", p, "-o", out));
    assert!(out.join("manifest.json").exists());
    // A lower size cap refuses even a plain package.
    fails(
        &reel!(
            s,
            "verify",
            "--max-ratio",
            "5000",
            "--max-bytes",
            "1000000",
            p
        ),
        &["bomb.reel.zip", "--max-bytes"],
    );
}

#[test]
fn checksum_mismatch_missing_manifest_and_newer_major_are_refused() {
    let s = Scratch::new();
    let good = s.pack(&[rrweb_fixture("checkout")], "good.reel.zip");
    let e = read_entries(&good);
    std::fs::remove_file(&good).unwrap();
    let w = first_window(&e);

    // One event changed, manifest not updated.
    let mut c = e.clone();
    let body = entry(&mut c, &w);
    let pos = body.windows(4).position(|x| x == b"\"x\":").unwrap();
    body[pos + 4] = if body[pos + 4] == b'1' { b'2' } else { b'1' };
    let p = s.path("mismatch.reel.zip");
    write_entries(&p, &c);
    fails(
        &reel!(s, "verify", p),
        &["mismatch.reel.zip", &w, "checksum mismatch"],
    );
    fails(
        &reel!(s, "unpack", p, "-o", s.path("out")),
        &["mismatch.reel.zip", &w, "checksum mismatch"],
    );
    fails(
        &reel!(s, "pack", p, "-o", s.path("o.reel.zip")),
        &["mismatch.reel.zip", &w, "checksum mismatch"],
    );
    std::fs::remove_file(&p).unwrap();

    let mut c = e.clone();
    c.retain(|(n, _)| n != "manifest.json");
    let p = s.path("nomanifest.reel.zip");
    write_entries(&p, &c);
    every_reader_refuses(&s, &p, &["missing manifest.json"]);
    std::fs::remove_file(&p).unwrap();

    let mut c = e.clone();
    let mut m = manifest_of(&c);
    m["format_version"] = json!("2.0");
    reseal(&mut c, m);
    let p = s.path("v2.reel.zip");
    write_entries(&p, &c);
    every_reader_refuses(&s, &p, &["format_version 2.0", "upgrade"]);
    std::fs::remove_file(&p).unwrap();

    // A newer minor with unknown fields is read, and the fields are kept by the reader.
    let mut c = e.clone();
    let mut m = manifest_of(&c);
    m["format_version"] = json!("1.7");
    m["future_field"] = json!({"kept": true});
    m["sessions"][0]["future"] = json!(1);
    reseal(&mut c, m);
    let p = s.path("v1_7.reel.zip");
    write_entries(&p, &c);
    ok(&reel!(s, "verify", p));
    ok(&reel!(
        s,
        "convert",
        p,
        "--to",
        "rrweb",
        "-o",
        s.path("o.json")
    ));
    s.assert_only(&["v1_7.reel.zip", "o.json"]);
}

#[test]
fn invalid_json_and_jsonl_name_the_line() {
    let s = Scratch::new();
    let p = s.write(
        "bad.json",
        "[\n{\"type\":4,\"data\":{},\"timestamp\":1},\n{\"type\":3,\"data\":{\"source\":1},,\"timestamp\":2}\n]\n",
    );
    fails(
        &reel!(s, "pack", p, "-o", s.path("o.reel.zip")),
        &["bad.json", "line 3"],
    );
    let p = s.write(
        "bad.jsonl",
        "[\"w\",{\"type\":4,\"data\":{},\"timestamp\":1}]\n[\"w\",{\"type\":4,]\n",
    );
    fails(
        &reel!(s, "pack", p, "-o", s.path("o.reel.zip")),
        &["bad.jsonl", "line 2"],
    );

    // A package whose window file has a broken second line (consistently sealed).
    let good = s.pack(&[rrweb_fixture("checkout")], "good.reel.zip");
    let mut e = read_entries(&good);
    std::fs::remove_file(&good).unwrap();
    let w = first_window(&e);
    let body = entry(&mut e, &w);
    let second = body.iter().position(|&b| b == b'\n').unwrap() + 1;
    body.splice(second..second + 1, *b"{{");
    let m = manifest_of(&e);
    reseal(&mut e, m);
    let p = s.path("badline.reel.zip");
    write_entries(&p, &e);
    fails(&reel!(s, "verify", p), &["badline.reel.zip", &w, "line 2"]);
    fails(
        &reel!(s, "convert", p, "--to", "rrweb", "-o", s.path("o.json")),
        &["badline.reel.zip", "line 2"],
    );
    s.assert_only(&["bad.json", "bad.jsonl", "badline.reel.zip"]);
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_bomb_in_a_cv_field_is_refused() {
    let s = Scratch::new();
    // 64 MB of JSON in ~64 KB of gzip, held as a latin1 string the way posthog-js packs it.
    let mut inner = Vec::with_capacity(64 << 20);
    inner.push(b'[');
    inner.resize(64 << 20, b' ');
    inner.push(b']');
    let packed: String = gzip(&inner).iter().map(|&b| b as char).collect();
    let body = json!([{"event": "$snapshot", "properties": {"$session_id": "s1", "$window_id": "w1",
        "distinct_id": "d", "$snapshot_data": [
            {"type": 4, "data": {"href": "https://a/", "width": 1, "height": 1}, "timestamp": 1},
            {"type": 2, "data": packed, "timestamp": 2, "cv": "2024-10"}]}}]);
    let p = s.write("bomb-body.json", gzip(body.to_string().as_bytes()));
    fails(
        &reel!(
            s,
            "pack",
            "--max-bytes",
            "8000000",
            p,
            "-o",
            s.path("o.reel.zip")
        ),
        &[
            "bomb-body.json",
            "cv field",
            "exceeds the limit",
            "--max-bytes",
        ],
    );
    s.assert_only(&["bomb-body.json"]);
    // Raised cap: it is just a big (if silly) snapshot.
    ok(&reel!(
        s,
        "pack",
        "--max-bytes",
        "100000000",
        p,
        "-o",
        s.path("o.reel.zip")
    ));
}

#[test]
fn deeply_nested_json_is_a_clean_error() {
    let s = Scratch::new();
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let p = s.write(
        "deep.json",
        format!(
            "[{{\"type\":3,\"timestamp\":1,\"data\":{}}}]",
            deep(200_000)
        ),
    );
    fails(
        &reel!(s, "pack", p, "-o", s.path("o.reel.zip")),
        &["deep.json"],
    );
    let p = s.write("deep2.json", deep(200_000));
    fails(
        &reel!(s, "pack", p, "-o", s.path("o.reel.zip")),
        &["deep2.json"],
    );
    let p = s.write(
        "deep-cv.json",
        json!([{"event": "$snapshot", "properties": {"$session_id": "s1", "$window_id": "w1",
            "distinct_id": "d", "$snapshot_data": [{"type": 2, "timestamp": 2, "cv": "2024-10",
            "data": gzip(deep(200_000).as_bytes()).iter().map(|&b| b as char).collect::<String>()}]}}])
        .to_string(),
    );
    fails(
        &reel!(s, "pack", p, "-o", s.path("o.reel.zip")),
        &["deep-cv.json", "nested deeper than"],
    );
    s.assert_only(&["deep.json", "deep2.json", "deep-cv.json"]);
}

#[test]
fn realistic_deep_dom_snapshots_are_accepted() {
    // 300 nested elements: deeper than serde_json's default limit of 128, far below the cap.
    let s = Scratch::new();
    let mut node = json!({"type": 3, "textContent": "leaf", "id": 1000});
    for i in 0..300 {
        node = json!({"type": 2, "tagName": "div", "attributes": {}, "childNodes": [node], "id": 1000 - i - 1});
    }
    let events = json!([
        {"type": 4, "data": {"href": "https://a/", "width": 1, "height": 1}, "timestamp": 1},
        {"type": 2, "data": {"node": {"type": 0, "childNodes": [node], "id": 1}, "initialOffset": {"top": 0, "left": 0}}, "timestamp": 2}
    ]);
    let p = s.write("deepdom.json", events.to_string());
    let pkg = s.pack(&[p], "deepdom.reel.zip");
    ok(&reel!(s, "verify", pkg));
    let out = s.path("out.json");
    ok(&reel!(s, "convert", pkg, "--to", "rrweb", "-o", out));
    assert_eq!(json_file(&out), events);
}

#[test]
fn out_of_order_events_are_sorted_with_a_warning() {
    let s = Scratch::new();
    let p = s.write(
        "unsorted.json",
        r#"[{"type":4,"data":{"href":"https://a/"},"timestamp":30},{"type":3,"data":{"source":2,"type":2,"id":1},"timestamp":10},{"type":3,"data":{"source":5,"id":1,"text":"x"},"timestamp":20}]"#,
    );
    let out = s.path("o.reel.zip");
    let o = reel!(s, "pack", p, "-o", out);
    ok(&o);
    let err = text(&o.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("reel: warning") && l.contains("out of time order")),
        "{err}"
    );
    let j = s.path("o.json");
    ok(&reel!(s, "convert", out, "--to", "rrweb", "-o", j));
    let ts: Vec<i64> = json_file(&j)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(ts, [10, 20, 30]);
}

// ---------------------------------------------------------------------------------------------
// Signatures

#[test]
fn keygen_sign_and_verify_with_a_key() {
    let s = Scratch::new();
    let pkg = s.pack(&[rrweb_fixture("checkout")], "a.reel.zip");
    ok(&reel!(s, "keygen", "-o", s.path("team")));
    ok(&reel!(s, "keygen", "-o", s.path("other")));
    let secret = std::fs::read_to_string(s.path("team.key")).unwrap();
    assert!(secret.starts_with("reel-ed25519-secret "), "{secret}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path("team.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(std::fs::read_to_string(s.path("team.pub"))
        .unwrap()
        .starts_with("reel-ed25519-public "));
    fails(
        &reel!(s, "keygen", "-o", s.path("team")),
        &["team.key", "already exists"],
    );

    // --key on an unsigned package fails.
    fails(
        &reel!(s, "verify", pkg, "--key", s.path("team.pub")),
        &["a.reel.zip", "not signed"],
    );

    let signed = s.path("signed.reel.zip");
    ok(&reel!(
        s,
        "sign",
        pkg,
        "--key",
        s.path("team.key"),
        "-o",
        signed
    ));
    ok(&reel!(s, "verify", signed, "--key", s.path("team.pub")));
    let o = reel!(s, "verify", signed);
    ok(&o);
    assert!(text(&o.stdout).contains("signed by ed25519 key"));
    fails(
        &reel!(s, "verify", signed, "--key", s.path("other.pub")),
        &["signed.reel.zip", "different key"],
    );

    // pack --sign gives the same result as pack + sign.
    let p2 = s.path("packed-signed.reel.zip");
    ok(&reel!(
        s,
        "pack",
        rrweb_fixture("checkout"),
        "--sign",
        s.path("team.key"),
        "-o",
        p2
    ));
    ok(&reel!(s, "verify", p2, "--key", s.path("team.pub")));

    // Tampered after signing: the manifest changed and everything re-sealed, but the old
    // signature is put back.
    let mut e = read_entries(&signed);
    let sig = e
        .iter()
        .find(|(n, _)| n == "signature.json")
        .unwrap()
        .clone();
    let mut m = manifest_of(&e);
    m["sessions"][0]["distinct_id"] = json!("someone-else");
    reseal(&mut e, m);
    e.push(sig);
    let t = s.path("tampered.reel.zip");
    write_entries(&t, &e);
    fails(
        &reel!(s, "verify", t, "--key", s.path("team.pub")),
        &["tampered.reel.zip", "modified after signing"],
    );
    fails(
        &reel!(s, "verify", t),
        &["tampered.reel.zip", "modified after signing"],
    );
}

// ---------------------------------------------------------------------------------------------
// --json outputs

#[test]
fn json_outputs_have_the_documented_fields() {
    let s = Scratch::new();
    let out = s.path("a.reel.zip");
    let o = reel!(s, "pack", rrweb_fixture("checkout"), "-o", out, "--json");
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in [
        "output",
        "inputs",
        "sessions",
        "events",
        "event_bytes",
        "package_bytes",
        "signed",
        "warnings",
        "files",
    ] {
        assert!(v.get(k).is_some(), "pack --json lacks {k}: {v}");
    }
    assert_eq!(v["events"], 263);
    assert_eq!(v["inputs"][0]["kind"], "rrweb JSON array");
    assert_eq!(v["signed"], false);

    let o = reel!(s, "verify", out, "--json");
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    for k in [
        "entries",
        "bytes",
        "sessions",
        "events",
        "signed_by",
        "warnings",
    ] {
        assert!(
            v["report"].get(k).is_some(),
            "verify --json lacks report.{k}: {v}"
        );
    }
    assert_eq!(v["report"]["events"], 263);
    assert_eq!(v["report"]["signed_by"], Value::Null);

    let o = reel!(s, "inspect", out, "--json");
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["kind"].as_str().unwrap().starts_with("reel package"));
    let m = &v["sessions"][0];
    for k in [
        "id",
        "start_time",
        "end_time",
        "recording_duration",
        "active_seconds",
        "start_url",
        "source",
        "windows",
        "event_count",
        "click_count",
        "keypress_count",
        "console_error_count",
        "urls",
        "events_by_type",
        "events_by_source",
    ] {
        assert!(
            m.get(k).is_some(),
            "inspect --json lacks sessions[0].{k}: {m}"
        );
    }
    // inspect of the source file computes the same facts as the package holds.
    let o2 = reel!(s, "inspect", rrweb_fixture("checkout"), "--json");
    ok(&o2);
    let v2: Value = serde_json::from_slice(&o2.stdout).unwrap();
    assert_eq!(v2["sessions"][0]["click_count"], m["click_count"]);
    assert_eq!(v2["sessions"][0]["event_count"], m["event_count"]);

    // A failing verify still prints JSON, with ok=false and the error.
    let bad = s.write("bad.reel.zip", b"PK\x03\x04 not really");
    let o = reel!(s, "verify", bad, "--json");
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("not a readable ZIP"));
}

// ---------------------------------------------------------------------------------------------
// JSON Schemas (docs/schema) hold for packages of every fixture.

#[test]
fn packages_of_every_fixture_match_the_json_schemas() {
    let probe = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!(
            "SKIPPED packages_of_every_fixture_match_the_json_schemas: python3 with the \
             `jsonschema` package is not available (pip install jsonschema)"
        );
        return;
    }
    let s = Scratch::new();
    let mut pkgs = Vec::new();
    for name in RRWEB {
        pkgs.push(s.pack(&[rrweb_fixture(name)], &format!("{name}.reel.zip")));
    }
    for run in WIRE_RUNS {
        pkgs.push(s.pack(&wire_bodies(run), &format!("wire-{run}.reel.zip")));
    }
    // All of them in one package, signed: several sessions and signature.json.
    ok(&reel!(s, "keygen", "-o", s.path("k")));
    let mut all: Vec<PathBuf> = RRWEB.iter().map(|n| rrweb_fixture(n)).collect();
    for run in WIRE_RUNS {
        all.extend(wire_bodies(run));
    }
    let mut args: Vec<OsString> = vec!["pack".into(), "--sign".into(), s.path("k.key").into()];
    args.extend(all.into_iter().map(PathBuf::into_os_string));
    args.extend(["-o".into(), s.path("all.reel.zip").into()]);
    ok(&s.run(&args));
    pkgs.push(s.path("all.reel.zip"));

    let o = Command::new("python3")
        .arg(root().join("docs/schema/validate.py"))
        .args(&pkgs)
        .output()
        .unwrap();
    ok(&o);
    let out = text(&o.stdout);
    assert_eq!(
        out.lines().filter(|l| l.contains(": valid (")).count(),
        pkgs.len(),
        "{out}"
    );

    // And the validator does catch a broken package.
    let mut e = read_entries(&pkgs[0]);
    let mut m = manifest_of(&e);
    m["sessions"][0]["event_count"] = json!(-1);
    let w = first_window(&e);
    entry(&mut e, &w).extend_from_slice(b"{\"type\":3,\"timestamp\":5,\"data\":{}}\n");
    reseal(&mut e, m);
    let bad = s.path("bad.reel.zip");
    write_entries(&bad, &e);
    let o = Command::new("python3")
        .arg(root().join("docs/schema/validate.py"))
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains("event_count"), "{out}");
    assert!(out.contains("'source' is a required property"), "{out}");
}

#[test]
fn level_zero_stores_entries_that_every_reader_takes() {
    let s = Scratch::new();
    let out = s.path("stored.reel.zip");
    ok(&reel!(
        s,
        "pack",
        rrweb_fixture("checkout"),
        "--level",
        "0",
        "-o",
        out
    ));
    ok(&reel!(s, "verify", out));
    let unzip = Command::new("unzip").arg("-t").arg(&out).output().unwrap();
    assert!(
        unzip.status.success(),
        "{}",
        String::from_utf8_lossy(&unzip.stdout)
    );
    let f = std::fs::File::open(&out).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    for i in 0..z.len() {
        assert_eq!(
            z.by_index(i).unwrap().compression(),
            zip::CompressionMethod::Stored
        );
    }
}

/// `reel redact` over several inputs (sessions and windows redacted on several threads at once):
/// no canary survives in any entry, the embedded report counts every planted one per session, in
/// input order, and `--report-only --json` reports the same counts without writing anything.
#[test]
fn redact_many_sessions_removes_every_canary_and_reports_per_session() {
    let s = Scratch::new();
    let base: Vec<Value> =
        serde_json::from_slice(&std::fs::read(rrweb_fixture("checkout")).unwrap()).unwrap();
    let mut inputs = Vec::new();
    for i in 0..6i64 {
        let mut evs = base.clone();
        for e in &mut evs {
            e["timestamp"] = json!(e["timestamp"].as_i64().unwrap() + i * 1000);
        }
        let ts = evs.last().unwrap()["timestamp"].as_i64().unwrap();
        // i + 1 console lines, each with its own canary address.
        for k in 0..=i {
            evs.push(json!({"type": 6, "timestamp": ts + 1 + k, "data": {"plugin": "rrweb/console@1",
                "payload": {"level": "log", "payload": [format!("\"mail canary{i}x{k}@example.org now\"")], "trace": []}}}));
        }
        inputs.push(s.write(&format!("rec{i}.json"), serde_json::to_vec(&evs).unwrap()));
    }
    let out = s.path("clean.reel.zip");
    let mut args: Vec<OsString> = vec!["redact".into()];
    args.extend(inputs.iter().map(|p| p.clone().into_os_string()));
    args.extend(["--preset", "default", "-o"].map(OsString::from));
    args.push(out.clone().into_os_string());
    ok(&s.run(&args));
    ok(&reel!(s, "verify", out));
    let entries = read_entries(&out);
    for (name, bytes) in &entries {
        assert!(
            !text(bytes).contains("@example.org"),
            "{name}: a canary survived"
        );
    }
    let report: Value = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n == "redaction-report.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let emails = |r: &Value| -> Vec<u64> {
        r["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                x["counts"]["by_rule"]["pattern email"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .collect()
    };
    // Session i carries the recording's own addresses plus i + 1 planted ones, in input order.
    let got = emails(&report);
    assert_eq!(got.len(), 6, "{report:#}");
    let own = got[0] - 1;
    assert_eq!(
        got,
        (1..=6).map(|n| own + n).collect::<Vec<u64>>(),
        "{report:#}"
    );
    // The same counts without writing anything.
    let mut args: Vec<OsString> = vec!["redact".into()];
    args.extend(inputs.iter().map(|p| p.clone().into_os_string()));
    args.extend(["--preset", "default", "--report-only", "--json"].map(OsString::from));
    let o = s.run(&args);
    ok(&o);
    let dry: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(emails(&dry), emails(&report));
}

// ---------------------------------------------------------------------------------------------
// The CLI as a newcomer meets it (issue 10, section 5).

/// Run reel with stdout going into a pipe whose reader has already exited, as in
/// `reel inspect x | head -1` once head is done.
#[cfg(unix)]
fn run_into_closed_pipe(s: &Scratch, args: &[&std::ffi::OsStr]) -> Output {
    let mut reader = Command::new("true")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run true");
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Command::new(REEL)
        .args(args)
        .env("TMPDIR", s.path("tmp"))
        .current_dir(s.dir.path())
        .stdout(std::process::Stdio::from(write_end))
        .output()
        .expect("run reel")
}

#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let s = Scratch::new();
    let pkg = s.pack(&[rrweb_fixture("checkout")], "a.reel.zip");
    let p = pkg.as_os_str();
    let o = |x: &'static str| std::ffi::OsStr::new(x);
    let out = s.path("b.reel.zip");
    let runs: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec![o("inspect"), p],
        vec![o("inspect"), p, o("--json")],
        vec![o("convert"), p, o("--to"), o("rrweb")],
        vec![o("convert"), p, o("--to"), o("posthog")],
        vec![o("dom"), p],
        vec![o("dom"), p, o("--select"), o("div")],
        vec![o("verify"), p],
        vec![o("verify"), p, o("--json")],
        vec![o("pack"), p, o("-o"), out.as_os_str(), o("--json")],
        vec![
            o("redact"),
            p,
            o("--preset"),
            o("default"),
            o("--report-only"),
        ],
        vec![o("--help")],
    ];
    for args in runs {
        let r = run_into_closed_pipe(&s, &args);
        assert!(
            matches!(r.status.code(), Some(0) | Some(141)),
            "{args:?}: exit {:?}\nstderr: {}",
            r.status,
            text(&r.stderr)
        );
        assert_eq!(text(&r.stderr), "", "{args:?}: not quiet");
    }
}

#[test]
fn a_package_verify_rejects_is_refused_by_export_play_and_every_reader() {
    let s = Scratch::new();
    let good = s.pack(&wire_bodies("checkout"), "good.reel.zip");
    let win = first_window(&read_entries(&good));
    let bytes = std::fs::read(&good).unwrap();
    std::fs::remove_file(&good).unwrap();
    // One flipped byte, and a deflate stream that is corrupt from its first block header.
    let (name, flipped) = flip_inside(&bytes, &win);
    assert_eq!(name, win);
    for bad in [flipped, corrupt_deflate(&bytes, &win)] {
        let p = s.write("bad.reel.zip", bad);
        refused_by_every_reader(&s, &p, &win);
        std::fs::remove_file(&p).unwrap();
        s.assert_only(&[]);
    }
}

/// Make the deflate stream of entry `name` invalid: its first block header gets the reserved
/// block type 3.
fn corrupt_deflate(pkg: &[u8], name: &str) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(Cursor::new(pkg)).unwrap();
    let i = z.index_for_name(name).unwrap();
    let f = z.by_index_raw(i).unwrap();
    assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
    let start = f.data_start().expect("data start") as usize;
    let mut out = pkg.to_vec();
    out[start] = 0b111; // BFINAL = 1, BTYPE = 11 (reserved)
    out
}

#[track_caller]
fn refused_by_every_reader(s: &Scratch, p: &Path, entry: &str) {
    let needles = ["bad.reel.zip", entry];
    fails(&reel!(s, "verify", p), &needles);
    fails(
        &reel!(s, "export", "--html", p, "-o", s.path("out.html")),
        &needles,
    );
    fails(
        &reel!(s, "convert", p, "--to", "rrweb", "-o", s.path("out.json")),
        &needles,
    );
    fails(&reel!(s, "dom", p), &needles);
    fails(
        &reel!(
            s,
            "redact",
            p,
            "--preset",
            "default",
            "-o",
            s.path("clean.reel.zip")
        ),
        &needles,
    );
    fails(&reel!(s, "unpack", p, "-o", s.path("dir")), &needles);
    fails(
        &reel!(s, "pack", p, "-o", s.path("again.reel.zip")),
        &needles,
    );
    // `play` must refuse before it serves: guard against it serving forever.
    let mut child = Command::new(REEL)
        .args([
            "play".as_ref(),
            p.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ])
        .env("TMPDIR", s.path("tmp"))
        .current_dir(s.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut waited = 0;
    while child.try_wait().unwrap().is_none() {
        if waited > 600 {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("reel play served a package that verify rejects");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    fails(&child.wait_with_output().unwrap(), &needles);
    s.assert_only(&["bad.reel.zip"]);
}

#[test]
fn a_text_file_is_not_a_recognised_recording_and_the_error_says_what_is() {
    let s = Scratch::new();
    let t = s.write("notes.txt", "Meeting notes\nbring the recordings\n");
    let needles = [
        "notes.txt",
        "not a recognised recording",
        "rrweb JSON",
        "PostHog export",
        "PostHog /s/ bodies",
        "snapshot JSONL",
        "Reel ingest batches",
        ".reel.zip",
    ];
    let runs = [
        reel!(s, "pack", t, "-o", s.path("o.reel.zip")),
        reel!(s, "export", "--html", t, "-o", s.path("o.html")),
        reel!(s, "dom", t),
        reel!(s, "convert", t, "--to", "rrweb"),
        reel!(s, "inspect", t),
        reel!(
            s,
            "redact",
            t,
            "--preset",
            "default",
            "-o",
            s.path("c.reel.zip")
        ),
    ];
    for o in &runs {
        let line = fails(o, &needles);
        assert!(!line.contains("lz-string"), "{line}");
    }
    let e = s.write("empty.json", "");
    fails(
        &reel!(s, "pack", e, "-o", s.path("o.reel.zip")),
        &["empty.json", "empty", "not a recognised recording"],
    );
    s.assert_only(&["notes.txt", "empty.json"]);
}

#[test]
fn empty_recordings_and_empty_results_are_said_not_silent() {
    let s = Scratch::new();
    let e = s.write("empty.json", "[]");
    fails(
        &reel!(s, "pack", e, "-o", s.path("o.reel.zip")),
        &["empty.json", "no events"],
    );
    fails(
        &reel!(s, "export", "--html", e, "-o", s.path("o.html")),
        &["empty.json", "no events"],
    );
    fails(
        &reel!(
            s,
            "redact",
            e,
            "--preset",
            "default",
            "-o",
            s.path("c.reel.zip")
        ),
        &["empty.json", "no events"],
    );
    s.assert_only(&["empty.json"]);

    let pkg = s.pack(&[rrweb_fixture("checkout")], "a.reel.zip");
    // Past the end: the page at its end, and a warning saying so.
    let o = reel!(s, "dom", pkg, "--at", "999999");
    ok(&o);
    assert!(text(&o.stdout).contains("<html"), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).contains("past the end of the recording"),
        "{}",
        text(&o.stderr)
    );
    // Within the recording: no warning.
    let o = reel!(s, "dom", pkg, "--at", "1");
    ok(&o);
    assert_eq!(text(&o.stderr), "");
    // A selector that matches nothing produced nothing: an error.
    let o = reel!(s, "dom", pkg, "--select", ".no-such-class-anywhere");
    fails(
        &o,
        &[
            "a.reel.zip",
            "no element matches",
            ".no-such-class-anywhere",
        ],
    );
    assert!(o.stdout.is_empty());
}
