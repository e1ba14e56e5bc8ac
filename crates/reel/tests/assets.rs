//! `reel assets`: a small site served on loopback (stylesheet with a web font and a background
//! image, `srcset` images, an image added by a mutation, a redirect, a 404, an oversized image);
//! the recording refers to them; the package must hold each once with the right hash and size,
//! verify, report what failed, and refuse loopback without `--allow-private`.
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const REEL: &str = env!("CARGO_BIN_EXE_reel");

/// A solid `w`×`h` RGB PNG.
pub fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let row: Vec<u8> = std::iter::once(0).chain(rgb.repeat(w as usize)).collect();
    let raw = row.repeat(h as usize);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

struct Site {
    base: String,
    files: BTreeMap<String, (&'static str, Vec<u8>)>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Site {
    fn start() -> Site {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let mut files = BTreeMap::new();
        let css = "@font-face { font-family: Site; src: url(fonts/site.woff2) format('woff2'); }\n\
                   body { font-family: Site; background: url(\"/img/bg.png\") repeat; }\n@import 'more.css';";
        files.insert(
            "/site.css".to_string(),
            ("text/css; charset=utf-8", css.as_bytes().to_vec()),
        );
        files.insert(
            "/more.css".to_string(),
            ("text/css", b"h1{background:url(img/more.png)}".to_vec()),
        );
        files.insert(
            "/fonts/site.woff2".to_string(),
            ("font/woff2", b"wOF2 not a real font".to_vec()),
        );
        files.insert(
            "/img/bg.png".to_string(),
            ("image/png", png(8, 8, [200, 30, 30])),
        );
        files.insert(
            "/img/more.png".to_string(),
            ("image/png", png(3, 3, [0, 0, 0])),
        );
        files.insert(
            "/img/a1.png".to_string(),
            ("image/png", png(20, 10, [30, 200, 30])),
        );
        files.insert(
            "/img/a2.png".to_string(),
            ("image/png", png(40, 20, [30, 30, 200])),
        );
        files.insert(
            "/img/added.png".to_string(),
            ("image/png", png(12, 12, [250, 200, 0])),
        );
        files.insert(
            "/img/big.png".to_string(),
            (
                "image/png",
                (0..200_000u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect(),
            ),
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let (served, log2) = (files.clone(), log.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (files, log) = (served.clone(), log2.clone());
                std::thread::spawn(move || serve(s, &files, &log));
            }
        });
        Site { base, files, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn bytes(&self, path: &str) -> &[u8] {
        &self.files[path].1
    }
}

fn serve(
    s: TcpStream,
    files: &BTreeMap<String, (&'static str, Vec<u8>)>,
    log: &Mutex<Vec<String>>,
) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut s = s;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        log.lock().unwrap().push(path.clone());
        let (status, ctype, body, extra) = if path == "/moved.png" {
            (
                "302 Found",
                "text/plain",
                Vec::new(),
                "Location: /img/a1.png\r\n",
            )
        } else if let Some((t, b)) = files.get(&path) {
            ("200 OK", *t, b.clone(), "")
        } else {
            ("404 Not Found", "text/plain", b"no".to_vec(), "")
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\n{extra}\r\n",
            body.len()
        );
        if s.write_all(head.as_bytes())
            .and_then(|_| s.write_all(&body))
            .is_err()
        {
            return;
        }
    }
}

fn el(id: i64, tag: &str, attrs: Value, kids: Value) -> Value {
    json!({"type": 2, "id": id, "tagName": tag, "attributes": attrs, "childNodes": kids})
}

/// A hand-written rrweb recording of the site's page.
pub fn recording(base: &str) -> Value {
    let t = 1_795_000_000_000i64;
    json!([
        {"type": 4, "timestamp": t, "data": {"href": format!("{base}/page.html"), "width": 800, "height": 600}},
        {"type": 2, "timestamp": t + 1, "data": {"node": {"type": 0, "id": 1, "childNodes": [
            {"type": 1, "id": 2, "name": "html", "publicId": "", "systemId": ""},
            el(3, "html", json!({}), json!([
                el(4, "head", json!({}), json!([
                    el(5, "link", json!({"rel": "stylesheet", "href": "site.css"}), json!([])),
                ])),
                el(6, "body", json!({}), json!([
                    el(7, "h1", json!({}), json!([{"type": 3, "id": 8, "textContent": "Assets"}])),
                    el(9, "img", json!({"id": "pic", "src": "img/a1.png", "srcset": "img/a1.png 1x, img/a2.png 2x"}), json!([])),
                    el(10, "img", json!({"id": "gone", "src": "missing.png"}), json!([])),
                    el(11, "img", json!({"id": "big", "src": "/img/big.png"}), json!([])),
                    el(12, "img", json!({"id": "moved", "src": "moved.png"}), json!([])),
                ])),
            ])),
        ]}, "initialOffset": {"top": 0, "left": 0}}},
        {"type": 3, "timestamp": t + 500, "data": {"source": 0, "texts": [], "attributes": [], "removes": [],
            "adds": [{"parentId": 6, "nextId": null, "node": el(20, "img", json!({"id": "added", "src": "/img/added.png"}), json!([]))}]}},
        {"type": 3, "timestamp": t + 1000, "data": {"source": 1, "positions": [{"x": 10, "y": 10, "id": 6, "timeOffset": 0}]}},
    ])
}

fn reel(args: &[&str]) -> Output {
    Command::new(REEL).args(args).output().unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn manifest(pkg: &Path) -> Value {
    let mut z = zip::ZipArchive::new(std::fs::File::open(pkg).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    serde_json::from_str(&s).unwrap()
}

#[test]
fn assets_from_loopback_go_into_the_package() {
    let site = Site::start();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.json");
    std::fs::write(&rec, recording(&site.base).to_string()).unwrap();
    let pkg = dir.path().join("out.reel.zip");
    let o = reel(&[
        "assets",
        rec.to_str().unwrap(),
        "-o",
        pkg.to_str().unwrap(),
        "--allow-private",
        "--max-asset-bytes",
        "100000",
        "--timeout",
        "10",
        "--json",
    ]);
    ok(&o);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let failed: BTreeMap<String, String> = summary["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["url"].as_str().unwrap().to_string(),
                f["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[&site.url("/missing.png")].contains("HTTP 404"),
        "{failed:?}"
    );
    assert!(
        failed[&site.url("/img/big.png")].contains("--max-asset-bytes"),
        "{failed:?}"
    );

    ok(&reel(&["verify", pkg.to_str().unwrap()]));
    let m = manifest(&pkg);
    assert_eq!(m["format_version"], "1.2");
    let assets = m["assets"].as_object().unwrap();
    let expected = [
        "/site.css",
        "/more.css",
        "/fonts/site.woff2",
        "/img/bg.png",
        "/img/more.png",
        "/img/a1.png",
        "/img/a2.png",
        "/img/added.png",
    ];
    for p in expected {
        let a = &assets[&site.url(p)];
        let bytes = site.bytes(p);
        assert_eq!(a["sha256"], hex(bytes), "{p}");
        assert_eq!(a["size"], bytes.len(), "{p}");
        assert!(a["fetched_at"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(assets[&site.url("/site.css")]["content_type"], "text/css");
    assert_eq!(
        assets[&site.url("/img/a1.png")]["content_type"],
        "image/png"
    );
    // The redirect: the URL the page asked for maps to the target's bytes.
    assert_eq!(
        assets[&site.url("/moved.png")]["sha256"],
        hex(site.bytes("/img/a1.png"))
    );
    assert_eq!(assets.len(), expected.len() + 1);
    assert_eq!(summary["fetched"], expected.len() + 1);
    // One entry per content (a1.png is there once for two URLs).
    let files = m["files"].as_array().unwrap();
    let asset_entries = files
        .iter()
        .filter(|f| f["path"].as_str().unwrap().starts_with("assets/sha256/"))
        .count();
    assert_eq!(asset_entries, expected.len());
    // Each URL fetched once.
    let log = site.log.lock().unwrap().clone();
    for p in expected {
        assert_eq!(log.iter().filter(|l| *l == p).count(), 1, "{p}: {log:?}");
    }
    // Standard-library Python reads the map and checks every entry (docs/examples/read_package.py).
    let py = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/read_package.py"))
        .arg(&pkg)
        .output()
        .unwrap();
    ok(&py);
    let text = String::from_utf8_lossy(&py.stdout);
    let a1 = hex(site.bytes("/img/a1.png"));
    assert!(
        text.contains(&format!("asset {}: image/png", site.url("/moved.png"))),
        "{text}"
    );
    assert!(text.contains(&format!("assets/sha256/{a1}")), "{text}");
    // The events are unchanged: the package plays without assets too.
    let o = reel(&["inspect", pkg.to_str().unwrap(), "--json"]);
    ok(&o);
    let kind = serde_json::from_slice::<Value>(&o.stdout).unwrap()["kind"].clone();
    assert!(
        kind.as_str()
            .unwrap()
            .contains("format 1.2, 9 asset URL(s)"),
        "{kind}"
    );

    // Redaction keeps the assets the redacted page still loads and drops, and counts, those
    // only blocked elements referenced (a1.png's bytes stay: the redirect's URL still loads them).
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "block = [\"#pic\", \"#added\"]\n").unwrap();
    let clean = dir.path().join("clean.reel.zip");
    let o = reel(&[
        "redact",
        pkg.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "-o",
        clean.to_str().unwrap(),
        "--json",
    ]);
    ok(&o);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["counts"]["by_rule"]["assets.unreferenced"], 3,
        "{report}"
    );
    ok(&reel(&["verify", clean.to_str().unwrap()]));
    let mut kept: Vec<String> = manifest(&clean)["assets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    kept.sort();
    let mut want: Vec<String> = [
        "/site.css",
        "/more.css",
        "/fonts/site.woff2",
        "/img/bg.png",
        "/img/more.png",
        "/moved.png",
    ]
    .iter()
    .map(|p| site.url(p))
    .collect();
    want.sort();
    assert_eq!(kept, want);
    assert_eq!(
        manifest(&clean)["assets"][site.url("/moved.png")]["sha256"],
        hex(site.bytes("/img/a1.png"))
    );

    // Again, from the package: what it holds is kept, only what failed is asked for again.
    let again = dir.path().join("again.reel.zip");
    let key = dir.path().join("k");
    ok(&reel(&["keygen", "-o", key.to_str().unwrap()]));
    let before = site.log.lock().unwrap().len();
    let o = reel(&[
        "assets",
        pkg.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
        "--allow-private",
        "--max-asset-bytes",
        "100000",
        "--sign",
        key.with_extension("key").to_str().unwrap(),
        "--json",
    ]);
    ok(&o);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["fetched"], expected.len() + 1);
    assert_eq!(summary["failed"].as_array().unwrap().len(), 2);
    let mut asked: Vec<String> = site.log.lock().unwrap()[before..].to_vec();
    asked.sort();
    assert_eq!(asked, ["/img/big.png", "/missing.png"]);
    assert_eq!(manifest(&again)["assets"], m["assets"]);

    // The offline HTML carries the assets; above the size chosen, a warning says so.
    let html = dir.path().join("x.html");
    let o = reel(&[
        "export",
        "--html",
        again.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    ok(&o);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"));
    let o = reel(&[
        "export",
        "--html",
        again.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
        "--warn-above-mb",
        "0",
    ]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("above --warn-above-mb 0"));

    // `reel pack --assets` does the same in one go.
    let packed = dir.path().join("packed.reel.zip");
    let o = reel(&[
        "pack",
        rec.to_str().unwrap(),
        "-o",
        packed.to_str().unwrap(),
        "--assets",
        "--allow-private",
        "--max-asset-bytes",
        "100000",
        "--json",
    ]);
    ok(&o);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["assets"]["fetched"], expected.len() + 1);
    assert_eq!(summary["assets"]["failed"].as_array().unwrap().len(), 2);
    let pm = manifest(&packed);
    let urls = |m: &Value| {
        m["assets"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(urls(&pm), urls(&m));
    ok(&reel(&["verify", packed.to_str().unwrap()]));
    // Without --assets, pack fetches nothing.
    let before = site.log.lock().unwrap().len();
    ok(&reel(&[
        "pack",
        rec.to_str().unwrap(),
        "-o",
        packed.to_str().unwrap(),
    ]));
    assert_eq!(site.log.lock().unwrap().len(), before);
    assert!(manifest(&packed).get("assets").is_none());
    ok(&reel(&[
        "verify",
        again.to_str().unwrap(),
        "--key",
        key.with_extension("pub").to_str().unwrap(),
    ]));
}

#[test]
fn loopback_is_refused_without_allow_private_and_caps_hold() {
    let site = Site::start();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.json");
    std::fs::write(&rec, recording(&site.base).to_string()).unwrap();
    let pkg = dir.path().join("out.reel.zip");
    // A proxy from the environment is not used (it would resolve names out of reach of the check).
    let o = Command::new(REEL)
        .args([
            "assets",
            rec.to_str().unwrap(),
            "-o",
            pkg.to_str().unwrap(),
            "--json",
        ])
        .env("HTTP_PROXY", "http://203.0.113.1:9")
        .env("http_proxy", "http://203.0.113.1:9")
        .env("ALL_PROXY", "http://203.0.113.1:9")
        .output()
        .unwrap();
    ok(&o);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["fetched"], 0);
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 7, "{failed:?}"); // site.css, a1, a2, missing, big, moved, added
    for f in failed {
        let e = f["error"].as_str().unwrap();
        assert!(
            e.contains("non-public address 127.0.0.1") && e.contains("--allow-private"),
            "{e}"
        );
    }
    assert!(
        site.log.lock().unwrap().is_empty(),
        "nothing reached the site"
    );
    ok(&reel(&["verify", pkg.to_str().unwrap()]));
    let m = manifest(&pkg);
    assert_eq!(m["format_version"], "1.1");
    assert!(m.get("assets").is_none());

    // A total cap: what does not fit is reported, what fits is kept.
    let o = reel(&[
        "assets",
        rec.to_str().unwrap(),
        "-o",
        pkg.to_str().unwrap(),
        "--allow-private",
        "--max-total-bytes",
        "1000",
        "--json",
    ]);
    ok(&o);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(summary["bytes"].as_u64().unwrap() <= 1000);
    assert!(summary["failed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["error"].as_str().unwrap().contains("--max-total-bytes")));
    ok(&reel(&["verify", pkg.to_str().unwrap()]));

    // An origin not allowed is not fetched.
    let o = reel(&[
        "assets",
        rec.to_str().unwrap(),
        "-o",
        pkg.to_str().unwrap(),
        "--allow-private",
        "--allow-origin",
        "http://example.com",
        "--json",
    ]);
    ok(&o);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["fetched"], 0);
    assert!(summary["failed"][0]["error"]
        .as_str()
        .unwrap()
        .contains("--allow-origin"));
}

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}
