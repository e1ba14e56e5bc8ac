//! `reel video` end to end: the binary, headless Chromium, ffmpeg, checked with ffprobe and against
//! `reel screenshot` (a frame of the video is the player's frame at that instant).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REEL: &str = env!("CARGO_BIN_EXE_reel");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/fixtures/rrweb/{name}.json"))
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

fn probe(p: &Path) -> serde_json::Value {
    let out = ok(&run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate,pix_fmt,nb_read_frames:format=duration",
            "-of",
            "json",
            p.to_str().unwrap(),
        ],
    ));
    serde_json::from_str(&out).unwrap()
}

/// Frames a constant-rate player shows at `fps`: the video is stored with a variable frame rate
/// (a picture is stored once for as long as it lasts), on the `fps` grid.
fn frames_at_rate(video: &Path, fps: u32) -> u64 {
    let o = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            video.to_str().unwrap(),
            "-vf",
            &format!("fps={fps},scale=16:16"),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout.len() as u64 / 256
}

/// Frames stored in the file.
fn stored_frames(p: &serde_json::Value) -> u64 {
    p["streams"][0]["nb_read_frames"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The picture a video shows at `t` seconds (a multiple of 1/120 s), as raw RGB. The video stores a
/// picture once for as long as it lasts, so `-ss t` (the first frame from t on) would give the next
/// change: the `fps` filter gives what is on screen at t.
fn frame_at(video: &Path, t: f64) -> Vec<u8> {
    let n = (t * 120.0).round() as u64;
    let o = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            video.to_str().unwrap(),
            "-vf",
            &format!("fps=120,select=eq(n\\,{n})"),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!o.stdout.is_empty(), "no frame at {t} s");
    o.stdout
}

/// A PNG as raw RGB (decoded by ffmpeg, like the video frames).
fn png_rgb(p: &Path) -> Vec<u8> {
    let o = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            p.to_str().unwrap(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
    );
    assert!(o.status.success());
    o.stdout
}

fn mad(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

fn no_temp_files(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".reel-tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn mp4_has_the_asked_size_rate_and_duration_and_its_frames_are_the_players() {
    let d = tempfile::tempdir().unwrap();
    let mp4 = d.path().join("clip.mp4");
    let input = fixture("checkout");
    ok(&run(
        REEL,
        &[
            "video",
            input.to_str().unwrap(),
            "--from",
            "2",
            "--to",
            "22",
            "--fps",
            "5",
            "--size",
            "640x400",
            "-o",
            mp4.to_str().unwrap(),
        ],
    ));
    let p = probe(&mp4);
    let s = &p["streams"][0];
    assert_eq!(s["codec_name"], "h264");
    assert_eq!(s["pix_fmt"], "yuv420p");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(640), Some(400))
    );
    assert_eq!(s["r_frame_rate"], "5/1");
    assert_eq!(frames_at_rate(&mp4, 5), 100);
    // Only changed pictures are stored: fewer than 100, but more than one (the form is filled in).
    let stored = stored_frames(&p);
    assert!(stored > 1 && stored < 100, "{stored} frames stored");
    let dur: f64 = p["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!(
        (dur - 20.0).abs() <= 0.2,
        "duration {dur} (expected 20 s within one frame)"
    );
    // Video time 3 s is recording time 5 s: the same image as `reel screenshot --at 5`.
    let png = d.path().join("at5.png");
    ok(&run(
        REEL,
        &[
            "screenshot",
            input.to_str().unwrap(),
            "--at",
            "5",
            "--size",
            "640x400",
            "-o",
            png.to_str().unwrap(),
        ],
    ));
    let (v3, shot) = (frame_at(&mp4, 3.0), png_rgb(&png));
    let same = mad(&v3, &shot);
    eprintln!("video frame vs screenshot at 5 s: {same:.2}");
    assert!(same < 3.0, "video frame vs screenshot: {same}");
    // Not frozen, not black: the form is filled in between 3 s and 20 s of the recording.
    let v0 = frame_at(&mp4, 1.0);
    let v55 = frame_at(&mp4, 18.0);
    assert!(
        mad(&v0, &v55) > same + 1.0,
        "frames at 3 s and 20 s look alike"
    );
    let mean = v0.iter().map(|&x| x as f64).sum::<f64>() / v0.len() as f64;
    assert!(mean > 30.0, "black frame (mean {mean})");
    no_temp_files(d.path());
}

#[test]
fn webm_and_gif() {
    let d = tempfile::tempdir().unwrap();
    let input = fixture("swagger");
    let webm = d.path().join("s.webm");
    ok(&run(
        REEL,
        &[
            "video",
            input.to_str().unwrap(),
            "--from",
            "10",
            "--to",
            "12",
            "--size",
            "320x200",
            "-o",
            webm.to_str().unwrap(),
        ],
    ));
    let p = probe(&webm);
    assert_eq!(p["streams"][0]["codec_name"], "vp9");
    assert_eq!(frames_at_rate(&webm, 24), 48, "2 s at the default 24 fps");
    let dur: f64 = p["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((dur - 2.0).abs() <= 0.05, "webm lasts {dur} s");
    let gif = d.path().join("s.gif");
    ok(&run(
        REEL,
        &[
            "video",
            input.to_str().unwrap(),
            "--from",
            "10",
            "--to",
            "12",
            "--size",
            "320x200",
            "-o",
            gif.to_str().unwrap(),
        ],
    ));
    let p = probe(&gif);
    assert_eq!(p["streams"][0]["codec_name"], "gif");
    assert_eq!(
        frames_at_rate(&gif, 12),
        24,
        "2 s at the GIF default 12 fps"
    );
    no_temp_files(d.path());
}

#[test]
fn bad_video_requests_fail_with_one_line_and_leave_no_file() {
    let d = tempfile::tempdir().unwrap();
    let input = fixture("checkout");
    let i = input.to_str().unwrap();
    let out = d.path().join("v.mp4");
    let o = out.to_str().unwrap();
    fails(
        &run(REEL, &["video", i, "--from", "8", "--to", "2", "-o", o]),
        "must be before --to",
    );
    fails(
        &run(REEL, &["video", i, "--to", "999", "-o", o]),
        "999 s is outside the recording",
    );
    fails(
        &run(
            REEL,
            &["video", i, "-o", d.path().join("v.avi").to_str().unwrap()],
        ),
        "unknown extension",
    );
    fails(
        &run(
            REEL,
            &[
                "video",
                i,
                "-o",
                d.path().join("no/such/v.mp4").to_str().unwrap(),
            ],
        ),
        "cannot write",
    );
    let missing = Command::new(REEL)
        .args(["video", i, "-o", o])
        .env("REEL_FFMPEG", d.path().join("no-ffmpeg"))
        .output()
        .unwrap();
    fails(&missing, "apt-get install ffmpeg");
    assert!(!out.exists());
    no_temp_files(d.path());
}

#[test]
fn speed_and_skip_inactivity_shorten_the_video() {
    let d = tempfile::tempdir().unwrap();
    let input = fixture("checkout");
    let fast = d.path().join("fast.mp4");
    ok(&run(
        REEL,
        &[
            "video",
            input.to_str().unwrap(),
            "--to",
            "20",
            "--fps",
            "5",
            "--speed",
            "4",
            "--size",
            "320x200",
            "-o",
            fast.to_str().unwrap(),
        ],
    ));
    assert_eq!(frames_at_rate(&fast, 5), 25, "20 s at 4x and 5 fps");
    // The checkout recording with a minute of nothing inserted after 20 s.
    let mut events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    let first = events[0]["timestamp"].as_i64().unwrap();
    for e in &mut events {
        let t = e["timestamp"].as_i64().unwrap();
        if t > first + 20_000 {
            e["timestamp"] = (t + 60_000).into();
        }
    }
    let idle = d.path().join("idle.json");
    std::fs::write(&idle, serde_json::to_vec(&events).unwrap()).unwrap();
    let frames = |skip: bool| {
        let out = d.path().join(format!("idle-{skip}.mp4"));
        let mut args = vec![
            "video",
            idle.to_str().unwrap(),
            "--fps",
            "2",
            "--size",
            "320x200",
            "-o",
            out.to_str().unwrap(),
        ];
        if skip {
            args.push("--skip-inactivity");
        }
        ok(&run(REEL, &args));
        frames_at_rate(&out, 2)
    };
    let (all, skipped) = (frames(false), frames(true));
    assert!(
        (all as i64 - 203).abs() <= 1,
        "101.3 s at 2 fps: {all} frames"
    );
    assert!(
        skipped < all - 100,
        "the idle minute is skipped: {skipped} of {all} frames"
    );
}

/// Pixels of two RGB images `w` wide that differ clearly: how many, and their bounding box.
fn changed_pixels(a: &[u8], b: &[u8], w: usize) -> (usize, usize, usize, usize, usize) {
    let (mut n, mut x0, mut x1, mut y0, mut y1) = (0, usize::MAX, 0, usize::MAX, 0);
    for (i, (p, q)) in a.chunks(3).zip(b.chunks(3)).enumerate() {
        let d: i32 = (0..3).map(|c| (p[c] as i32 - q[c] as i32).abs()).sum();
        if d > 90 {
            let (x, y) = (i % w, i / w);
            n += 1;
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    (n, x0, x1, y0, y1)
}

/// Pixels near the ripples' accent colour (#4f9cff) inside a `side`-pixel square centred on (cx, cy).
fn accent_pixels(a: &[u8], w: usize, cx: usize, cy: usize, side: usize) -> usize {
    let mut n = 0;
    for y in cy - side / 2..cy + side / 2 {
        for x in cx - side / 2..cx + side / 2 {
            let p = &a[(y * w + x) * 3..][..3];
            // Lenient: the video's thin ring is blurred by chroma subsampling and compression.
            if p[2] > 180 && p[2] as i32 - p[0] as i32 > 50 && p[2] as i32 - p[1] as i32 > 25 {
                n += 1;
            }
        }
    }
    n
}

/// Mean absolute difference inside a `side`-pixel square centred on (cx, cy) of two RGB images `w` wide.
fn box_mad(a: &[u8], b: &[u8], w: usize, cx: usize, cy: usize, side: usize) -> f64 {
    let (mut sum, mut n) = (0f64, 0f64);
    for y in cy - side / 2..cy + side / 2 {
        for x in cx - side / 2..cx + side / 2 {
            for c in 0..3 {
                let i = (y * w + x) * 3 + c;
                sum += (a[i] as i32 - b[i] as i32).unsigned_abs() as f64;
                n += 1.0;
            }
        }
    }
    sum / n
}

#[test]
fn clicks_ripple_in_video_frames_and_the_ripple_ends() {
    // checkout clicks at 4.384 s at (715, 401) of a 1280x800 page: at 1280x800 the page is not scaled.
    let d = tempfile::tempdir().unwrap();
    let input = fixture("checkout");
    let mp4 = d.path().join("click.mp4");
    ok(&run(
        REEL,
        &[
            "video",
            input.to_str().unwrap(),
            "--from",
            "4",
            "--to",
            "5.2",
            "--fps",
            "10",
            "--size",
            "1280x800",
            "-o",
            mp4.to_str().unwrap(),
        ],
    ));
    let shot = |t: &str| {
        let p = d.path().join(format!("at{t}.png"));
        ok(&run(
            REEL,
            &[
                "screenshot",
                input.to_str().unwrap(),
                "--at",
                t,
                "--size",
                "1280x800",
                "-o",
                p.to_str().unwrap(),
            ],
        ));
        png_rgb(&p)
    };
    // 116 ms after the click: a ripple around the pointer, in the video frame and in the screenshot
    // of that instant alike; 716 ms after, the ripple (600 ms) is gone from both.
    let (during, after) = (frame_at(&mp4, 0.5), frame_at(&mp4, 1.1));
    let (shot_during, shot_after) = (shot("4.5"), shot("5.1"));
    let ring = |f: &[u8]| accent_pixels(f, 1280, 715, 401, 48);
    let (on, off) = (ring(&shot_during), ring(&shot_after));
    assert!(
        on > 20 && off == 0,
        "ripple pixels in the screenshots: {on}, then {off}"
    );
    // The video frames change around the click as the screenshots do, and look like them.
    let around = |a: &[u8], b: &[u8]| box_mad(a, b, 1280, 715, 401, 48);
    let (video, shots) = (around(&during, &after), around(&shot_during, &shot_after));
    let (same_during, same_after) = (around(&during, &shot_during), around(&after, &shot_after));
    eprintln!("around the click: video {video:.2}, screenshots {shots:.2}; video vs screenshot {same_during:.2} / {same_after:.2}");
    assert!(
        video > 0.6 * shots && shots > 1.5,
        "no ripple in the video: {video} vs {shots}"
    );
    assert!(
        same_during < 4.0 && same_after < 3.0,
        "video and screenshots differ"
    );
}

#[test]
fn panels_show_beside_the_page() {
    let d = tempfile::tempdir().unwrap();
    let input = fixture("checkout");
    let render = |panels: Option<&str>| {
        let out = d.path().join(format!("p-{}.mp4", panels.unwrap_or("none")));
        let mut args = vec![
            "video",
            input.to_str().unwrap(),
            "--from",
            "30",
            "--to",
            "31",
            "--fps",
            "2",
            "--size",
            "640x360",
            "-o",
            out.to_str().unwrap(),
        ];
        if let Some(p) = panels {
            args.extend(["--panels", p]);
        }
        ok(&run(REEL, &args));
        frame_at(&out, 0.5)
    };
    let (plain, with) = (render(None), render(Some("console,network")));
    // The right part of the frame is the letterbox without panels, the console beside the page with them.
    let right = |f: &[u8]| -> Vec<u8> {
        f.chunks(640 * 3)
            .flat_map(|row| row[500 * 3..].to_vec())
            .collect()
    };
    let diff = mad(&right(&plain), &right(&with));
    assert!(diff > 10.0, "no panel drawn: {diff}");
    fails(
        &run(
            REEL,
            &[
                "video",
                input.to_str().unwrap(),
                "--panels",
                "bogus",
                "-o",
                d.path().join("x.mp4").to_str().unwrap(),
            ],
        ),
        "--panels bogus: one of console",
    );
}

#[test]
fn threads_render_parts_at_once_and_give_the_same_video() {
    let d = tempfile::tempdir().unwrap();
    let input = fixture("checkout");
    let render = |threads: &str| {
        let out = d.path().join(format!("t{threads}.mp4"));
        ok(&run(
            REEL,
            &[
                "video",
                input.to_str().unwrap(),
                "--from",
                "0",
                "--to",
                "41",
                "--fps",
                "12",
                "--size",
                "640x400",
                "--threads",
                threads,
                "-o",
                out.to_str().unwrap(),
            ],
        ));
        out
    };
    let (one, two) = (render("1"), render("2"));
    assert_eq!(
        frames_at_rate(&two, 12),
        492,
        "41 s at 12 fps: two blocks of 240 and one of 12"
    );
    // ffmpeg's structural similarity of the two videos, frame by frame.
    let o = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-i",
            one.to_str().unwrap(),
            "-i",
            two.to_str().unwrap(),
            "-lavfi",
            "ssim",
            "-f",
            "null",
            "-",
        ],
    );
    let log = String::from_utf8_lossy(&o.stderr);
    let all: f64 = log
        .rsplit("All:")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(all >= 0.99, "SSIM {all}");
}

#[test]
fn a_cursor_moving_over_a_still_page_moves_in_the_video() {
    // The checkout recording, then the mouse alone: at (100, 100), a second later at (600, 300).
    let d = tempfile::tempdir().unwrap();
    let mut events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixture("checkout")).unwrap()).unwrap();
    let first = events[0]["timestamp"].as_i64().unwrap();
    let end = events.last().unwrap()["timestamp"].as_i64().unwrap();
    let mv = |t: i64, x: i64, y: i64| serde_json::json!({"type": 3, "timestamp": t, "data": {"source": 1, "positions": [{"x": x, "y": y, "id": 1, "timeOffset": 0}]}});
    events.push(mv(end + 1000, 100, 100));
    events.push(mv(end + 2000, 600, 300));
    events.push(serde_json::json!({"type": 5, "timestamp": end + 3000, "data": {"tag": "end", "payload": {}}}));
    let input = d.path().join("mouse.json");
    std::fs::write(&input, serde_json::to_vec(&events).unwrap()).unwrap();
    let at = |ms: i64| format!("{}", (end - first + ms) as f64 / 1000.0);
    let mp4 = d.path().join("mouse.mp4");
    let o = run(
        REEL,
        &[
            "video",
            input.to_str().unwrap(),
            "--from",
            &at(500),
            "--to",
            &at(3000),
            "--fps",
            "4",
            "--size",
            "1280x800",
            "-o",
            mp4.to_str().unwrap(),
        ],
    );
    ok(&o);
    // Video times 1 s and 2 s are 1.5 s and 2.5 s after the end of the checkout.
    let (a, b) = (frame_at(&mp4, 1.0), frame_at(&mp4, 2.0));
    let shot = d.path().join("a.png");
    ok(&run(
        REEL,
        &[
            "screenshot",
            input.to_str().unwrap(),
            "--at",
            &at(1500),
            "--size",
            "1280x800",
            "-o",
            shot.to_str().unwrap(),
        ],
    ));
    let shot = png_rgb(&shot);
    // Only the arrow differs between the two frames: a few hundred pixels, at both ends of the path
    // (the page was resized at the end of the checkout, so it is scaled and letterboxed here).
    let (n, x0, x1, y0, y1) = changed_pixels(&a, &b, 1280);
    eprintln!(
        "cursor: {n} pixels changed in x {x0}..{x1}, y {y0}..{y1}; video vs screenshot {:.2}",
        mad(&a, &shot)
    );
    assert!((40..3000).contains(&n), "{n} pixels changed");
    assert!(
        x1 - x0 > 300 && y1 - y0 > 120,
        "the cursor did not move from (100, 100) to (600, 300)"
    );
    assert!(mad(&a, &shot) < 1.5, "video and screenshot disagree");
    // One capture of the page for the whole stretch: the cursor alone is drawn per frame.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 page capture"), "{err}");
}

/// Processes whose command line holds every one of `needles`.
fn processes_with(needles: &[&str]) -> usize {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    procs
        .flatten()
        .filter(|p| {
            std::fs::read(p.path().join("cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    needles.iter().all(|n| c.contains(n))
                })
                .unwrap_or(false)
        })
        .count()
}

/// Memory: while frames are made, the render's Chromium runs one renderer, the page's (its headless
/// mode otherwise keeps the tab it opened at launch, the omnibox popup's pages and a spare one: 3 to
/// 4 renderers, ≈ 100 MB more).
#[test]
fn a_render_runs_one_page_renderer() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = dir.path().join("one-renderer.mp4");
    let mut child = Command::new(REEL)
        .args(["video", fixture("shoelace").to_str().unwrap(), "-o"])
        .arg(&out)
        .env("TMPDIR", &tmp)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let profile = tmp.to_string_lossy().into_owned();
    // The video is written to a temporary file next to OUT, renamed when complete.
    let part = dir.path().join(".reel-tmp-").to_string_lossy().into_owned();
    let mut seen = Vec::new();
    while child.try_wait().unwrap().is_none() {
        // ffmpeg starts once the page is open and its session chosen: frames are being made.
        if processes_with(&["ffmpeg", &part]) > 0 {
            seen.push(processes_with(&[&profile, "--type=renderer"]));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert!(!seen.is_empty(), "the render ended before it was sampled");
    let most = *seen.iter().max().unwrap();
    let over = seen.iter().filter(|&&n| n > 1).count();
    assert_eq!(
        most,
        1,
        "up to {most} renderers while rendering ({over} of {} samples over 1)",
        seen.len()
    );
}
