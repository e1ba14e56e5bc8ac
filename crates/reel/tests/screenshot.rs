//! `reel screenshot` end to end: the binary, Debian's headless Chromium and the real fixtures.
//! Images are decoded by a tiny PNG reader below (8-bit RGB/RGBA, as Chromium writes them).
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REEL: &str = env!("CARGO_BIN_EXE_reel");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/fixtures/rrweb/{name}.json"))
}

/// A scratch folder that is also the run's TMPDIR, so leftovers (profiles, temp PNGs) show up.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("reel-shot-")
        .tempdir()
        .unwrap()
}

fn reel(dir: &Path, args: &[&str]) -> Output {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    Command::new(REEL)
        .args(args)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "reel failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Fails with one line on stderr that contains every needle.
fn fails(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("tmp"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

struct Image {
    w: usize,
    h: usize,
    /// RGB, row by row.
    rgb: Vec<u8>,
}

/// Decode a non-interlaced 8-bit RGB or RGBA PNG.
fn png(bytes: &[u8]) -> Image {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut p, mut w, mut h, mut ch, mut idat) = (8, 0, 0, 0, Vec::new());
    while p + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        let kind = &bytes[p + 4..p + 8];
        let data = &bytes[p + 8..p + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "bit depth");
                ch = match data[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("colour type {t}"),
                };
                assert_eq!(data[12], 0, "interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        p += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * ch;
    let mut out = vec![0u8; stride * h];
    for y in 0..h {
        let f = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= ch {
                out[y * stride + x - ch] as i32
            } else {
                0
            };
            let b = if y > 0 {
                out[(y - 1) * stride + x] as i32
            } else {
                0
            };
            let c = if x >= ch && y > 0 {
                out[(y - 1) * stride + x - ch] as i32
            } else {
                0
            };
            let pred = match f {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let pp = a + b - c;
                    let (pa, pb, pc) = ((pp - a).abs(), (pp - b).abs(), (pp - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                _ => panic!("filter {f}"),
            };
            out[y * stride + x] = (line[x] as i32 + pred) as u8;
        }
    }
    let rgb = out
        .chunks(ch)
        .flat_map(|px| px[..3].iter().copied())
        .collect();
    Image { w, h, rgb }
}

fn variance(img: &Image) -> f64 {
    let n = img.rgb.len() as f64;
    let mean = img.rgb.iter().map(|&v| v as f64).sum::<f64>() / n;
    img.rgb
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n
}

fn mean_abs_diff(a: &Image, b: &Image) -> f64 {
    assert_eq!((a.w, a.h), (b.w, b.h));
    let sum: u64 = a
        .rgb
        .iter()
        .zip(&b.rgb)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64)
        .sum();
    sum as f64 / a.rgb.len() as f64
}

#[test]
fn a_screenshot_is_a_png_of_the_requested_size_showing_the_page() {
    let d = scratch();
    let out = d.path().join("shot.png");
    let o = reel(
        d.path(),
        &[
            "screenshot",
            fixture("checkout").to_str().unwrap(),
            "--at",
            "20",
            "--size",
            "640x400",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(ok(&o).trim(), out.to_str().unwrap());
    let img = png(&std::fs::read(&out).unwrap());
    assert_eq!((img.w, img.h), (640, 400));
    assert!(
        variance(&img) > 100.0,
        "blank image: variance {}",
        variance(&img)
    );
    assert_eq!(
        leftovers(d.path()),
        Vec::<String>::new(),
        "temporary files left"
    );
}

#[test]
fn several_instants_write_one_png_each_and_a_changing_page_gives_different_images() {
    let d = scratch();
    let dir = d.path().join("frames");
    let o = reel(
        d.path(),
        &[
            "screenshot",
            fixture("swagger").to_str().unwrap(),
            "--at",
            "1,45",
            "-o",
            dir.to_str().unwrap(),
        ],
    );
    let listed: Vec<String> = ok(&o).lines().map(str::to_string).collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed[0].ends_with("-1.png") && listed[1].ends_with("-45.png"),
        "{listed:?}"
    );
    let a = png(&std::fs::read(&listed[0]).unwrap());
    let b = png(&std::fs::read(&listed[1]).unwrap());
    assert_eq!((a.w, a.h), (1280, 720), "default size");
    let diff = mean_abs_diff(&a, &b);
    assert!(
        diff > 1.0,
        "the page changed between 1 s and 45 s but the images agree ({diff})"
    );
    assert_eq!(
        leftovers(d.path()),
        Vec::<String>::new(),
        "temporary files left"
    );
}

#[test]
fn bad_requests_fail_with_one_line_and_leave_no_file() {
    let d = scratch();
    let input = fixture("checkout");
    let input = input.to_str().unwrap();
    let out = d.path().join("x.png");
    let o = out.to_str().unwrap();
    fails(
        &reel(d.path(), &["screenshot", input, "--at", "999", "-o", o]),
        &["999 s is outside the recording", "0 to 4"],
    );
    fails(
        &reel(
            d.path(),
            &[
                "screenshot",
                input,
                "--at",
                "1",
                "--session",
                "nope",
                "-o",
                o,
            ],
        ),
        &["no session \"nope\""],
    );
    // A flag clap rejects: its usual usage error (first line says what is wrong), status 2.
    let bad = reel(
        d.path(),
        &["screenshot", input, "--at", "1", "--size", "big", "-o", o],
    );
    assert_eq!(bad.status.code(), Some(2));
    let first = String::from_utf8_lossy(&bad.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(first.contains("expected WIDTHxHEIGHT"), "{first}");
    fails(
        &reel(d.path(), &["screenshot", input, "--at=-1", "-o", o]),
        &["--at -1"],
    );
    let nowhere = d.path().join("missing/dir/x.png");
    fails(
        &reel(
            d.path(),
            &[
                "screenshot",
                input,
                "--at",
                "1",
                "-o",
                nowhere.to_str().unwrap(),
            ],
        ),
        &["cannot write"],
    );
    // A recording without a full snapshot has no page to draw.
    let partial = d.path().join("partial.json");
    std::fs::write(
        &partial,
        r#"[{"type":4,"data":{"href":"http://x/","width":800,"height":600},"timestamp":1000},
            {"type":3,"data":{"source":1,"positions":[{"x":1,"y":2,"id":1,"timeOffset":0}]},"timestamp":2000}]"#,
    )
    .unwrap();
    fails(
        &reel(
            d.path(),
            &[
                "screenshot",
                partial.to_str().unwrap(),
                "--at",
                "0",
                "-o",
                o,
            ],
        ),
        &["no full snapshot"],
    );
    assert!(!out.exists());
    // Chromium missing: the error names Debian's package.
    let o2 = Command::new(REEL)
        .args(["screenshot", input, "--at", "1", "-o", o])
        .env("PATH", d.path().join("no-such-dir"))
        .env_remove("REEL_CHROMIUM")
        .env("TMPDIR", d.path().join("tmp"))
        .output()
        .unwrap();
    fails(&o2, &["apt-get install chromium"]);
    assert!(!out.exists());
    assert_eq!(
        leftovers(d.path()),
        Vec::<String>::new(),
        "temporary files left"
    );
}

#[test]
fn session_picks_one_session_of_a_package_and_names_the_files() {
    let d = scratch();
    let pkg = d.path().join("two.reel.zip");
    let o = reel(
        d.path(),
        &[
            "pack",
            fixture("checkout").to_str().unwrap(),
            fixture("swagger").to_str().unwrap(),
            "-o",
            pkg.to_str().unwrap(),
        ],
    );
    ok(&o);
    let info: serde_json::Value = serde_json::from_str(&ok(&reel(
        d.path(),
        &["inspect", pkg.to_str().unwrap(), "--json"],
    )))
    .unwrap();
    let ids: Vec<&str> = info["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let dir = d.path().join("out/");
    let shot = |session: Option<&str>| {
        let mut args = vec![
            "screenshot",
            pkg.to_str().unwrap(),
            "--at",
            "10",
            "--size",
            "400x300",
        ];
        if let Some(s) = session {
            args.extend(["--session", s]);
        }
        args.extend(["-o", dir.to_str().unwrap()]);
        let out = ok(&reel(d.path(), &args));
        PathBuf::from(out.trim())
    };
    let first = shot(None);
    assert_eq!(
        first,
        dir.join(format!("{}-10.png", ids[0])),
        "default: the first session"
    );
    let second = shot(Some(ids[1]));
    assert_eq!(second, dir.join(format!("{}-10.png", ids[1])));
    let (a, b) = (
        png(&std::fs::read(&first).unwrap()),
        png(&std::fs::read(&second).unwrap()),
    );
    assert_eq!((a.w, a.h, b.w, b.h), (400, 300, 400, 300));
    assert!(
        mean_abs_diff(&a, &b) > 1.0,
        "two different recordings gave the same image"
    );
}

/// Whether a running process has `needle` on its command line (Chromium names its profile there).
fn process_uses(needle: &str) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        std::fs::read(p.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(needle))
            .unwrap_or(false)
    })
}

/// A renderer killed with SIGKILL cannot remove its Chromium profile; the next render removes it
/// (its `owner` process is gone), and leaves the profile of a renderer that is still running.
#[test]
fn a_profile_left_by_a_killed_renderer_is_removed_by_the_next_one() {
    let dir = scratch();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = dir.path().join("v.mp4");
    let mut child = Command::new(REEL)
        .args(["video", fixture("shoelace").to_str().unwrap(), "-o"])
        .arg(&out)
        .env("TMPDIR", &tmp)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for its profile, then kill it the hard way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !leftovers(dir.path())
        .iter()
        .any(|n| n.starts_with("reel-render-"))
    {
        assert!(std::time::Instant::now() < deadline, "no profile appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    let stale: Vec<String> = leftovers(dir.path())
        .into_iter()
        .filter(|n| n.starts_with("reel-render-"))
        .collect();
    assert!(!stale.is_empty(), "the killed renderer left its profile");
    // A profile whose owner is alive (this test) is someone else's work in progress.
    let live = tmp.join("reel-render-live");
    std::fs::create_dir_all(&live).unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    std::fs::write(
        live.join("owner"),
        format!("{} {start}", std::process::id()),
    )
    .unwrap();
    // Chromium exits when its pipe closes; wait until no process still uses the killed
    // renderer's profile (a loaded machine can take seconds), then render again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while stale.iter().any(|s| process_uses(s)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed renderer's Chromium is still running after 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let shot = dir.path().join("s.png");
    ok(&reel(
        dir.path(),
        &[
            "screenshot",
            fixture("checkout").to_str().unwrap(),
            "--at",
            "1",
            "-o",
            shot.to_str().unwrap(),
        ],
    ));
    let after = leftovers(dir.path());
    for s in &stale {
        assert!(!after.contains(s), "{s} is still there: {after:?}");
    }
    assert!(after.contains(&"reel-render-live".to_string()), "{after:?}");
}
