//! The player's cursor and click ripples drawn onto a page capture, and the frame formats around it:
//! PNG in (Chromium's capture) and out (screenshots), planar YUV 4:2:0 for ffmpeg.
//!
//! The page is captured with the overlay hidden (render mode) and only when the page changed; a frame
//! in which only the cursor or a ripple moved reuses the capture and redraws the overlay here, as the
//! player's CSS draws it: the cursor image rendered by the player itself (`Sprite`), ripples as a
//! 40 px ring with a 3 px border in the accent colour, scaled and faded by the player's animation
//! state, both clipped to the page's box and scaled with it.
use crate::Error;
use serde_json::Value;

/// An RGB image, 3 bytes per pixel, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub w: usize,
    pub h: usize,
    pub px: Vec<u8>,
}

/// Where the replayed page is drawn in the frame (CSS pixels = frame pixels) and its scale.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Geo {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub s: f64,
}

/// The cursor (`(x, y)` in page pixels, if shown) and ripples (`[x, y, scale, opacity]`) of a frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overlay {
    pub cursor: Option<(f64, f64)>,
    pub ripples: Vec<[f64; 4]>,
}

/// The player's cursor image at one scale: unpremultiplied RGBA.
#[derive(Debug, Clone)]
pub struct Sprite {
    pub w: usize,
    pub h: usize,
    pub rgba: Vec<u8>,
}

/// The cursor's offset in page pixels (`.reel-cursor{margin:-2px 0 0 -2px}`).
const CURSOR_OFFSET: f64 = 2.0;
/// `.reel-ripple`: 40 px box, 3 px border, `--accent`.
const RIPPLE_RADIUS: f64 = 20.0;
const RIPPLE_BORDER: f64 = 3.0;
const ACCENT: [u8; 3] = [0x4f, 0x9c, 0xff];

impl Geo {
    pub fn from_json(v: &Value) -> Geo {
        let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
        Geo {
            x: f("x"),
            y: f("y"),
            w: f("w"),
            h: f("h"),
            s: v["s"].as_f64().filter(|s| *s > 0.0).unwrap_or(1.0),
        }
    }

    /// The page's box in whole frame pixels `(x0, y0, x1, y1)`, within `w`×`h`.
    fn clip(&self, w: usize, h: usize) -> (usize, usize, usize, usize) {
        let c = |v: f64, max: usize| (v.round().max(0.0) as usize).min(max);
        (
            c(self.x, w),
            c(self.y, h),
            c(self.x + self.w, w),
            c(self.y + self.h, h),
        )
    }
}

impl Overlay {
    pub fn from_json(v: &Value) -> Overlay {
        let cursor = v["c"]
            .as_array()
            .and_then(|c| Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)));
        let ripples = v["r"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| {
                        let a = x.as_array()?;
                        let n = |i: usize| a.get(i).and_then(Value::as_f64);
                        Some([n(0)?, n(1)?, n(2)?, n(3)?])
                    })
                    .collect()
            })
            .unwrap_or_default();
        Overlay { cursor, ripples }
    }

    pub fn is_empty(&self) -> bool {
        self.cursor.is_none() && self.ripples.is_empty()
    }

    /// The frame rectangle `(x0, y0, x1, y1)` the overlay may touch (even-aligned, for 4:2:0 chroma),
    /// or `None` when it draws nothing inside the page's box.
    pub fn bounds(&self, g: &Geo, sprite: (usize, usize), w: usize, h: usize) -> Option<Rect> {
        let (cx0, cy0, cx1, cy1) = g.clip(w, h);
        let mut r: Option<(f64, f64, f64, f64)> = None;
        let mut add = |a: f64, b: f64, c: f64, d: f64| {
            r = Some(match r {
                None => (a, b, c, d),
                Some((x0, y0, x1, y1)) => (x0.min(a), y0.min(b), x1.max(c), y1.max(d)),
            })
        };
        if let Some((x, y)) = self.cursor {
            let (px, py) = cursor_origin(g, x, y);
            add(
                px as f64,
                py as f64,
                (px + sprite.0 as i64) as f64,
                (py + sprite.1 as i64) as f64,
            );
        }
        for rp in &self.ripples {
            let (cx, cy, rad) = ripple_geometry(g, rp);
            add(
                cx - rad - 1.0,
                cy - rad - 1.0,
                cx + rad + 1.0,
                cy + rad + 1.0,
            );
        }
        let (x0, y0, x1, y1) = r?;
        let x0 = (x0.floor().max(cx0 as f64) as usize) & !1;
        let y0 = (y0.floor().max(cy0 as f64) as usize) & !1;
        let x1 = ((x1.ceil().min(cx1 as f64).max(0.0) as usize + 1) & !1).min(w);
        let y1 = ((y1.ceil().min(cy1 as f64).max(0.0) as usize + 1) & !1).min(h);
        (x0 < x1 && y0 < y1).then_some(Rect { x0, y0, x1, y1 })
    }
}

/// A rectangle of frame pixels, `x0..x1` × `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

fn cursor_origin(g: &Geo, x: f64, y: f64) -> (i64, i64) {
    (
        (g.x + (x - CURSOR_OFFSET) * g.s).round() as i64,
        (g.y + (y - CURSOR_OFFSET) * g.s).round() as i64,
    )
}

/// Centre and outer radius of a ripple in frame pixels.
fn ripple_geometry(g: &Geo, r: &[f64; 4]) -> (f64, f64, f64) {
    (
        g.x + r[0] * g.s,
        g.y + r[1] * g.s,
        RIPPLE_RADIUS * r[2] * g.s,
    )
}

/// Draw `o` onto `img` (ripples first, the cursor above them, as in the player), clipped to the
/// page's box and to `area`.
pub fn draw(img: &mut Rgb, g: &Geo, o: &Overlay, sprite: Option<&Sprite>, area: Rect) {
    let (bx0, by0, bx1, by1) = g.clip(img.w, img.h);
    let clip = Rect {
        x0: area.x0.max(bx0),
        y0: area.y0.max(by0),
        x1: area.x1.min(bx1),
        y1: area.y1.min(by1),
    };
    if clip.x0 >= clip.x1 || clip.y0 >= clip.y1 {
        return;
    }
    for r in &o.ripples {
        ripple(img, g, r, clip);
    }
    if let (Some((x, y)), Some(sp)) = (o.cursor, sprite) {
        let (ox, oy) = cursor_origin(g, x, y);
        for sy in 0..sp.h {
            let fy = oy + sy as i64;
            if fy < clip.y0 as i64 || fy >= clip.y1 as i64 {
                continue;
            }
            for sx in 0..sp.w {
                let fx = ox + sx as i64;
                if fx < clip.x0 as i64 || fx >= clip.x1 as i64 {
                    continue;
                }
                let s = &sp.rgba[(sy * sp.w + sx) * 4..][..4];
                blend(
                    img,
                    fx as usize,
                    fy as usize,
                    [s[0], s[1], s[2]],
                    s[3] as u32,
                );
            }
        }
    }
}

/// A ring of outer radius R and border `3 × scale`, anti-aliased by distance, faded by its opacity.
fn ripple(img: &mut Rgb, g: &Geo, r: &[f64; 4], clip: Rect) {
    let (cx, cy, outer) = ripple_geometry(g, r);
    let inner = (outer - RIPPLE_BORDER * r[2] * g.s).max(0.0);
    let opacity = r[3].clamp(0.0, 1.0);
    if opacity <= 0.0 || outer <= 0.0 {
        return;
    }
    let y0 = ((cy - outer - 1.0).floor().max(clip.y0 as f64)) as usize;
    let y1 = ((cy + outer + 1.0).ceil().min(clip.y1 as f64).max(0.0)) as usize;
    let x0 = ((cx - outer - 1.0).floor().max(clip.x0 as f64)) as usize;
    let x1 = ((cx + outer + 1.0).ceil().min(clip.x1 as f64).max(0.0)) as usize;
    for y in y0..y1 {
        for x in x0..x1 {
            let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
            let cover = (outer - d + 0.5).clamp(0.0, 1.0) - (inner - d + 0.5).clamp(0.0, 1.0);
            let a = (cover * opacity * 255.0).round() as u32;
            if a > 0 {
                blend(img, x, y, ACCENT, a);
            }
        }
    }
}

fn blend(img: &mut Rgb, x: usize, y: usize, c: [u8; 3], a: u32) {
    if a == 0 {
        return;
    }
    let p = &mut img.px[(y * img.w + x) * 3..][..3];
    for k in 0..3 {
        p[k] = ((c[k] as u32 * a + p[k] as u32 * (255 - a) + 127) / 255) as u8;
    }
}

/// Bytes of a `w`×`h` I420 frame (chroma planes of ⌈w/2⌉×⌈h/2⌉, as ffmpeg lays out `yuv420p`).
impl Rect {
    /// All of `img`.
    pub fn all(img: &Rgb) -> Rect {
        Rect {
            x0: 0,
            y0: 0,
            x1: img.w,
            y1: img.h,
        }
    }

    /// The player's clip `{x, y, w, h}` (CSS pixels of the window) widened to even coordinates
    /// (whole I420 chroma samples) within a `width`×`height` frame; `None` when absent or empty.
    pub fn from_clip(v: &Value, width: usize, height: usize) -> Option<Rect> {
        let n = |k: &str| v.get(k).and_then(Value::as_f64).filter(|f| f.is_finite());
        let (x, y, w, h) = (n("x")?, n("y")?, n("w")?, n("h")?);
        let lo = |a: f64, max: usize| ((a.floor().max(0.0) as usize) & !1).min(max);
        let hi = |a: f64, max: usize| ((a.ceil().max(0.0) as usize + 1) & !1).min(max);
        let r = Rect {
            x0: lo(x, width),
            y0: lo(y, height),
            x1: hi(x + w, width),
            y1: hi(y + h, height),
        };
        (r.x1 > r.x0 && r.y1 > r.y0).then_some(r)
    }
}

/// Copy `patch` (the size of `r`) into `img` at `r`.
pub fn paste(img: &mut Rgb, patch: &Rgb, r: Rect) {
    let (row, prow) = (img.w * 3, patch.w * 3);
    for y in r.y0..r.y1 {
        let src = &patch.px[(y - r.y0) * prow..][..prow];
        img.px[y * row + r.x0 * 3..][..prow].copy_from_slice(src);
    }
}

pub fn i420_len(w: usize, h: usize) -> usize {
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// Convert `r` of `img` into the I420 frame `out` (BT.601, limited range: what ffmpeg assumes for
/// untagged video). `r` is even-aligned except at odd frame edges.
pub fn to_i420(img: &Rgb, out: &mut [u8], r: Rect) {
    let (w, h) = (img.w, img.h);
    let cw = w.div_ceil(2);
    let (ys, rest) = out.split_at_mut(w * h);
    let (us, vs) = rest.split_at_mut(cw * h.div_ceil(2));
    for y in r.y0..r.y1 {
        let row = &img.px[y * w * 3..(y + 1) * w * 3];
        let yrow = &mut ys[y * w..(y + 1) * w];
        for x in r.x0..r.x1 {
            let (rr, gg, bb) = (
                row[x * 3] as i32,
                row[x * 3 + 1] as i32,
                row[x * 3 + 2] as i32,
            );
            yrow[x] = (((66 * rr + 129 * gg + 25 * bb + 128) >> 8) + 16) as u8;
        }
    }
    for cy in r.y0 / 2..r.y1.div_ceil(2) {
        let (ya, yb) = (cy * 2, (cy * 2 + 1).min(h - 1));
        for cx in r.x0 / 2..r.x1.div_ceil(2) {
            let (xa, xb) = (cx * 2, (cx * 2 + 1).min(w - 1));
            let mut s = [0i32; 3];
            for (x, y) in [(xa, ya), (xb, ya), (xa, yb), (xb, yb)] {
                let p = &img.px[(y * w + x) * 3..][..3];
                for k in 0..3 {
                    s[k] += p[k] as i32;
                }
            }
            let (rr, gg, bb) = ((s[0] + 2) >> 2, (s[1] + 2) >> 2, (s[2] + 2) >> 2);
            us[cy * cw + cx] = (((-38 * rr - 74 * gg + 112 * bb + 128) >> 8) + 128) as u8;
            vs[cy * cw + cx] = (((112 * rr - 94 * gg - 18 * bb + 128) >> 8) + 128) as u8;
        }
    }
}

/// The whole image as an I420 frame.
pub fn i420(img: &Rgb) -> Vec<u8> {
    let mut out = vec![0; i420_len(img.w, img.h)];
    to_i420(img, &mut out, Rect::all(img));
    out
}

/// A PNG (8-bit gray, RGB or RGBA, as Chromium writes them) as RGB.
pub fn decode_png(bytes: &[u8]) -> Result<Rgb, Error> {
    let bad = |e: png::DecodingError| Error::Browser(format!("screenshot: {e}"));
    let mut d = png::Decoder::new(std::io::Cursor::new(bytes));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut r = d.read_info().map_err(bad)?;
    let mut buf = vec![0; r.output_buffer_size().unwrap_or(0)];
    let info = r.next_frame(&mut buf).map_err(bad)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let n = info.color_type.samples();
    buf.truncate(info.buffer_size());
    let px = match n {
        3 => buf,
        _ => {
            let mut px = Vec::with_capacity(w * h * 3);
            for p in buf.chunks_exact(n) {
                match n {
                    4 => px.extend_from_slice(&p[..3]),
                    2 | 1 => px.extend_from_slice(&[p[0], p[0], p[0]]),
                    _ => px.extend_from_slice(&p[..3]),
                }
            }
            px
        }
    };
    Ok(Rgb { w, h, px })
}

/// An RGB image as PNG.
pub fn encode_png(img: &Rgb) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, img.w as u32, img.h as u32);
        e.set_color(png::ColorType::Rgb);
        e.set_depth(png::BitDepth::Eight);
        e.set_compression(png::Compression::Fast);
        let mut wr = e
            .write_header()
            .map_err(|e| Error::Encode(format!("png: {e}")))?;
        wr.write_image_data(&img.px)
            .map_err(|e| Error::Encode(format!("png: {e}")))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn white(w: usize, h: usize) -> Rgb {
        Rgb {
            w,
            h,
            px: vec![255; w * h * 3],
        }
    }

    #[test]
    fn white_and_black_convert_to_limited_range_yuv() {
        let img = white(4, 2);
        let y = i420(&img);
        assert_eq!(y.len(), 8 + 2 + 2);
        assert!(y[..8].iter().all(|&v| v == 235), "{y:?}");
        assert!(y[8..].iter().all(|&v| v == 128), "{y:?}");
        let odd = i420(&Rgb {
            w: 3,
            h: 3,
            px: vec![0; 27],
        });
        assert_eq!(odd.len(), 9 + 2 * 4);
        assert!(odd[..9].iter().all(|&v| v == 16));
    }

    #[test]
    fn a_ripple_is_a_ring_in_the_accent_colour_and_fades() {
        let g = Geo {
            x: 10.0,
            y: 0.0,
            w: 100.0,
            h: 100.0,
            s: 1.0,
        };
        let mut img = white(120, 100);
        let o = Overlay {
            cursor: None,
            ripples: vec![[50.0, 50.0, 1.0, 1.0]],
        };
        let r = o.bounds(&g, (0, 0), 120, 100).unwrap();
        assert!(
            r.x0 <= 39 && r.x1 >= 81 && r.x0.is_multiple_of(2) && r.x1.is_multiple_of(2),
            "{r:?}"
        );
        draw(&mut img, &g, &o, None, r);
        let at = |img: &Rgb, x: usize, y: usize| img.px[(y * img.w + x) * 3..][..3].to_vec();
        // Centre (60, 50) untouched, the ring 18.5 px from it in the accent colour.
        assert_eq!(at(&img, 60, 50), vec![255, 255, 255]);
        assert_eq!(at(&img, 60 + 18, 50), ACCENT.to_vec());
        assert_eq!(at(&img, 60 + 25, 50), vec![255, 255, 255]);
        let mut faded = white(120, 100);
        let half = Overlay {
            cursor: None,
            ripples: vec![[50.0, 50.0, 1.0, 0.5]],
        };
        draw(&mut faded, &g, &half, None, r);
        let p = at(&faded, 78, 50);
        assert!(p[0] > 0x4f && p[0] < 255 && p[2] == 255, "{p:?}");
    }

    #[test]
    fn the_cursor_is_drawn_at_its_scaled_position_and_clipped_to_the_page() {
        let g = Geo {
            x: 0.0,
            y: 10.0,
            w: 50.0,
            h: 50.0,
            s: 0.5,
        };
        let sprite = Sprite {
            w: 2,
            h: 2,
            rgba: vec![0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128],
        };
        let mut img = white(64, 64);
        let o = Overlay {
            cursor: Some((22.0, 42.0)),
            ripples: vec![],
        };
        let r = o.bounds(&g, (2, 2), 64, 64).unwrap();
        draw(&mut img, &g, &o, Some(&sprite), r);
        // Page (22, 42) minus the 2 px offset, at scale 0.5, from (0, 10): frame (10, 30).
        let at = |x: usize, y: usize| img.px[(y * 64 + x) * 3];
        assert_eq!((at(10, 30), at(11, 30), at(10, 31)), (0, 0, 255));
        assert_eq!(at(11, 31), 127);
        // Outside the page's box nothing is drawn.
        let mut img2 = white(64, 64);
        let out = Overlay {
            cursor: Some((101.0, 2.0)),
            ripples: vec![],
        };
        assert!(out.bounds(&g, (2, 2), 64, 64).is_none());
        draw(
            &mut img2,
            &g,
            &out,
            Some(&sprite),
            Rect {
                x0: 0,
                y0: 0,
                x1: 64,
                y1: 64,
            },
        );
        assert!(img2.px.iter().all(|&v| v == 255));
    }

    #[test]
    fn png_round_trips() {
        let mut img = white(5, 3);
        img.px[4] = 7;
        let back = decode_png(&encode_png(&img).unwrap()).unwrap();
        assert_eq!(back, img);
        assert!(decode_png(b"not a png").is_err());
    }
}
