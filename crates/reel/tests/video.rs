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

/// One frame of a video at `t` seconds, as raw RGB.
fn frame_at(video: &Path, t: f64) -> Vec<u8> {
    let o = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-ss",
            &t.to_string(),
            "-i",
            video.to_str().unwrap(),
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
    assert_eq!(s["nb_read_frames"], "100");
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
    assert_eq!(
        p["streams"][0]["nb_read_frames"], "48",
        "2 s at the default 24 fps"
    );
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
        p["streams"][0]["nb_read_frames"], "24",
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
    let p = probe(&fast);
    assert_eq!(
        p["streams"][0]["nb_read_frames"], "25",
        "20 s at 4x and 5 fps"
    );
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
        probe(&out)["streams"][0]["nb_read_frames"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
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
    // 116 ms after the click: a ripple around the pointer (a screenshot, like the player's #t= view, has none).
    let during = box_mad(&frame_at(&mp4, 0.5), &shot("4.5"), 1280, 715, 401, 48);
    // 716 ms after: the ripple (600 ms) is gone.
    let after = box_mad(&frame_at(&mp4, 1.1), &shot("5.1"), 1280, 715, 401, 48);
    eprintln!("around the click: during {during:.2}, after {after:.2}");
    assert!(
        during > 3.0 * after.max(1.0),
        "no ripple drawn: {during} vs {after}"
    );
    assert!(after < 3.0, "the ripple did not end: {after}");
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
        probe(&two)["streams"][0]["nb_read_frames"],
        "492",
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
