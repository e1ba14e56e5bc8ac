//! Which URLs a recording loads: images (`img` `src`/`srcset`, `picture source srcset`, `video
//! poster`, `input type=image`), stylesheets and icons (`link rel=stylesheet` not inlined,
//! `link rel=icon`), SVG `use`/`image` `href`, and CSS `url()`/`@import` in `<style>` text,
//! `_cssText`, `style` attributes and stylesheet-rule events — in full snapshots and in later
//! mutations (added nodes, changed attributes, changed style text), every window. Relative URLs are
//! resolved against the page (the Meta event's `href`, or a `<base href>`).
//!
//! [`AssetScan`] is a [`WindowFilter`], so `reel assets` finds the URLs while the package is being
//! written. Nothing here fetches anything: `reel-move::assets` does.
use reel_format::event::{EventType, IncrementalSource};
use reel_format::package::WindowFilter;
use reel_format::Event;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use url::Url;

/// At most this many URLs per window are kept (a hostile recording cannot grow memory without
/// bound); [`AssetScan::dropped`] counts the rest.
pub const MAX_URLS: usize = 50_000;

/// Elements whose attributes name a URL to load.
#[derive(Clone, Copy, PartialEq)]
enum Tag {
    Img,
    Source,
    Link { load: bool },
    Video,
    InputImage,
    SvgRef,
    Style,
    Base,
}

/// The URLs one window loads; see the module docs.
#[derive(Default)]
pub struct AssetScan {
    base: Option<Url>,
    tags: HashMap<i64, Tag>,
    /// Text nodes inside `<style>` (their text is CSS).
    style_texts: HashSet<i64>,
    /// Absolute `http(s)` URLs, without fragments.
    pub urls: BTreeSet<String>,
    /// URLs left out past [`MAX_URLS`].
    pub dropped: u64,
}

impl WindowFilter for AssetScan {
    fn event(&mut self, e: Event) -> reel_format::Result<Option<Event>> {
        self.observe(&e);
        Ok(Some(e))
    }
}

impl AssetScan {
    pub fn new() -> Self {
        Self::default()
    }

    /// Roughly the memory the scan holds, bytes (callers that keep scans between batches budget
    /// them with it).
    pub fn memory(&self) -> usize {
        self.tags.len() * 32
            + self.style_texts.len() * 16
            + self.urls.iter().map(|u| u.len() + 48).sum::<usize>()
            + self.base.as_ref().map_or(0, |b| b.as_str().len())
    }

    /// The page the window shows (the last Meta event's `href`, or a `<base href>`): whose
    /// origin decides whether the server collects the window's assets.
    pub fn page(&self) -> Option<&Url> {
        self.base.as_ref()
    }

    /// Look at one event (time order).
    pub fn observe(&mut self, e: &Event) {
        let wanted = match e.kind {
            EventType::Meta | EventType::FullSnapshot => true,
            EventType::IncrementalSnapshot => matches!(
                e.source,
                Some(IncrementalSource::Mutation)
                    | Some(IncrementalSource::StyleSheetRule)
                    | Some(IncrementalSource::Font)
            ),
            _ => false,
        };
        if !wanted {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(e.json()) else {
            return;
        };
        let data = &v["data"];
        match e.kind {
            EventType::Meta => {
                if let Some(h) = data["href"].as_str() {
                    self.base = Url::parse(h).ok();
                }
            }
            EventType::FullSnapshot => {
                self.tags.clear();
                self.style_texts.clear();
                self.node(&data["node"], None);
            }
            _ => match e.source {
                Some(IncrementalSource::Mutation) => self.mutation(data),
                Some(IncrementalSource::StyleSheetRule) => {
                    for a in data["adds"].as_array().into_iter().flatten() {
                        if let Some(rule) = a["rule"].as_str() {
                            self.css(rule);
                        }
                    }
                }
                _ => {
                    // Font: `fontSource` is a CSS `url(…)` list unless the font came as a buffer.
                    if data["buffer"] != Value::Bool(true) {
                        if let Some(s) = data["fontSource"].as_str() {
                            self.css(s);
                        }
                    }
                }
            },
        }
    }

    fn node(&mut self, n: &Value, parent: Option<Tag>) {
        let id = n["id"].as_i64();
        match n["type"].as_i64() {
            Some(2) => {
                let tag = n["tagName"].as_str().unwrap_or("").to_ascii_lowercase();
                let attrs = &n["attributes"];
                let kind = tag_kind(&tag, attrs);
                if let (Some(id), Some(k)) = (id, kind) {
                    self.tags.insert(id, k);
                }
                if let Some(o) = attrs.as_object() {
                    for (name, value) in o {
                        self.attribute(kind, name, value);
                    }
                }
                for c in n["childNodes"].as_array().into_iter().flatten() {
                    self.node(c, kind);
                }
            }
            Some(3) => {
                if parent == Some(Tag::Style) || n["isStyle"] == Value::Bool(true) {
                    if let Some(id) = id {
                        self.style_texts.insert(id);
                    }
                    if let Some(t) = n["textContent"].as_str() {
                        self.css(t);
                    }
                }
            }
            _ => {
                for c in n["childNodes"].as_array().into_iter().flatten() {
                    self.node(c, None);
                }
            }
        }
    }

    fn mutation(&mut self, d: &Value) {
        for a in d["adds"].as_array().into_iter().flatten() {
            let parent = a["parentId"]
                .as_i64()
                .and_then(|p| self.tags.get(&p).copied());
            self.node(&a["node"], parent);
        }
        for a in d["attributes"].as_array().into_iter().flatten() {
            let kind = a["id"].as_i64().and_then(|id| self.tags.get(&id).copied());
            if let Some(o) = a["attributes"].as_object() {
                for (name, value) in o {
                    self.attribute(kind, name, value);
                }
            }
        }
        for t in d["texts"].as_array().into_iter().flatten() {
            let is_style = t["id"]
                .as_i64()
                .is_some_and(|id| self.style_texts.contains(&id));
            if let (true, Some(v)) = (is_style, t["value"].as_str()) {
                self.css(v);
            }
        }
    }

    fn attribute(&mut self, kind: Option<Tag>, name: &str, value: &Value) {
        let name = name.to_ascii_lowercase();
        if name == "style" || name == "_csstext" {
            match value {
                Value::String(s) => self.css(s),
                // A style diff: property -> value or [value, priority].
                Value::Object(o) => {
                    for v in o.values() {
                        let s = v.as_str().or_else(|| v[0].as_str());
                        if let Some(s) = s {
                            self.css(s);
                        }
                    }
                }
                _ => {}
            }
            return;
        }
        let Some(s) = value.as_str() else { return };
        let Some(kind) = kind else { return };
        match (kind, name.as_str()) {
            (Tag::Img, "src") | (Tag::Video, "poster") | (Tag::InputImage, "src") => self.add(s),
            (Tag::Img | Tag::Source, "srcset") => {
                for u in srcset_urls(s) {
                    self.add(u);
                }
            }
            (Tag::Link { load: true }, "href") | (Tag::SvgRef, "href" | "xlink:href") => {
                self.add(s)
            }
            (Tag::Base, "href") => {
                if let Some(b) = resolve(self.base.as_ref(), s) {
                    self.base = Url::parse(&b).ok();
                }
            }
            _ => {}
        }
    }

    fn css(&mut self, text: &str) {
        for u in css_urls(text) {
            self.add(u);
        }
    }

    fn add(&mut self, raw: &str) {
        if let Some(u) = resolve(self.base.as_ref(), raw) {
            if self.urls.len() < MAX_URLS {
                self.urls.insert(u);
            } else if !self.urls.contains(&u) {
                self.dropped += 1;
            }
        }
    }
}

fn tag_kind(tag: &str, attrs: &Value) -> Option<Tag> {
    Some(match tag {
        "img" => Tag::Img,
        "source" => Tag::Source,
        "video" => Tag::Video,
        "style" => Tag::Style,
        "base" => Tag::Base,
        "use" | "image" => Tag::SvgRef,
        "input"
            if attrs["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("image")) =>
        {
            Tag::InputImage
        }
        "link" => {
            let rel = attrs["rel"].as_str().unwrap_or("").to_ascii_lowercase();
            let inlined = attrs.get("_cssText").is_some();
            let load = rel
                .split_ascii_whitespace()
                .any(|r| (r == "stylesheet" && !inlined) || r == "icon" || r == "apple-touch-icon");
            Tag::Link { load }
        }
        _ => return None,
    })
}

/// `raw` as an absolute `http(s)` URL without fragment, resolved against `base`; `None` for
/// `data:`, `blob:`, fragment-only references, other schemes and unparsable text.
pub fn resolve(base: Option<&Url>, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.starts_with('#') {
        return None;
    }
    let mut u = match base {
        Some(b) => b.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return None;
    }
    u.set_fragment(None);
    Some(u.into())
}

/// What a fetched stylesheet at `url` refers to (`url()`, `@import`), as absolute URLs.
pub fn stylesheet_urls(url: &str, css: &[u8]) -> Vec<String> {
    let base = Url::parse(url).ok();
    let text = String::from_utf8_lossy(css);
    css_urls(&text)
        .into_iter()
        .filter_map(|raw| resolve(base.as_ref(), raw))
        .collect()
}

/// The URLs of a `srcset` value (image candidates: URL, then optional descriptors, comma-separated).
pub fn srcset_urls(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            return out;
        }
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (url, after) = rest.split_at(end);
        let trimmed = url.trim_end_matches(',');
        if !trimmed.is_empty() {
            out.push(trimmed);
        }
        rest = if trimmed.len() < url.len() {
            after
        } else {
            // Descriptors up to the next comma.
            after.find(',').map_or("", |i| &after[i + 1..])
        };
    }
}

/// The URLs CSS text refers to: every `url(…)` (quoted or not) and `@import "…"`.
pub fn css_urls(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut i = 0;
    while let Some(at) = lower[i..].find("url(").map(|p| p + i) {
        let inner = &text[at + 4..];
        let trimmed = inner.trim_start();
        let lead = inner.len() - trimmed.len();
        let (url, used) = match trimmed.chars().next() {
            Some(q @ ('"' | '\'')) => match trimmed[1..].find(q) {
                Some(e) => (&trimmed[1..1 + e], 2 + e),
                None => break,
            },
            _ => match trimmed.find(')') {
                Some(e) => (trimmed[..e].trim_end(), e),
                None => break,
            },
        };
        out.push(url);
        i = at + 4 + lead + used;
    }
    let mut i = 0;
    while let Some(at) = lower[i..].find("@import").map(|p| p + i) {
        let after = text[at + 7..].trim_start();
        if let Some(q @ ('"' | '\'')) = after.chars().next() {
            if let Some(e) = after[1..].find(q) {
                out.push(&after[1..1 + e]);
            }
        }
        i = at + 7;
    }
    out.into_iter().filter(|u| !u.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(events: &[Value]) -> Vec<String> {
        let mut s = AssetScan::new();
        for e in events {
            s.observe(&Event::parse(e.to_string()).unwrap());
        }
        s.urls.into_iter().collect()
    }

    #[test]
    fn css_and_srcset() {
        assert_eq!(
            css_urls("a{background:URL( 'x.png' )} b{src:url(f.woff2) format('woff2'),url(\"g.woff\")} @import 'i.css'; @import url(j.css);"),
            vec!["x.png", "f.woff2", "g.woff", "j.css", "i.css"]
        );
        assert_eq!(
            // As in the HTML spec, a comma inside a URL does not end it; one at its end does.
            srcset_urls("a.png 1x, b.png 2x,c,d.png, e.png 100w,f.png,"),
            vec!["a.png", "b.png", "c,d.png", "e.png", "f.png"]
        );
        let base = Url::parse("https://s.example/p/q.html").unwrap();
        assert_eq!(
            resolve(Some(&base), "../i.png#x").unwrap(),
            "https://s.example/i.png"
        );
        assert_eq!(resolve(Some(&base), "data:image/png;base64,AA"), None);
        assert_eq!(resolve(Some(&base), "#frag"), None);
        assert_eq!(resolve(None, "rel.png"), None);
    }

    #[test]
    fn snapshot_and_mutations() {
        let el = |id: i64, tag: &str, attrs: Value, kids: Value| serde_json::json!({"type": 2, "id": id, "tagName": tag, "attributes": attrs, "childNodes": kids});
        let snapshot = serde_json::json!({"type": 2, "timestamp": 2, "data": {"node": {"type": 0, "id": 1, "childNodes": [
            el(2, "html", serde_json::json!({}), serde_json::json!([
                el(3, "link", serde_json::json!({"rel": "stylesheet", "href": "/site.css"}), serde_json::json!([])),
                el(4, "link", serde_json::json!({"rel": "stylesheet", "_cssText": "a{background:url(in.png)}"}), serde_json::json!([])),
                el(5, "link", serde_json::json!({"rel": "icon", "href": "fav.ico"}), serde_json::json!([])),
                el(6, "a", serde_json::json!({"href": "/not-loaded"}), serde_json::json!([])),
                el(7, "style", serde_json::json!({}), serde_json::json!([{"type": 3, "id": 8, "textContent": "@import 'im.css';"}])),
                el(9, "picture", serde_json::json!({}), serde_json::json!([
                    el(10, "source", serde_json::json!({"srcset": "p1.webp 1x, p2.webp 2x"}), serde_json::json!([])),
                    el(11, "img", serde_json::json!({"src": "p.png", "srcset": "q.png 2x", "style": "background-image: url(bgi.png)"}), serde_json::json!([])),
                ])),
                el(12, "video", serde_json::json!({"poster": "poster.jpg"}), serde_json::json!([])),
                el(13, "input", serde_json::json!({"type": "image", "src": "btn.png"}), serde_json::json!([])),
                el(14, "input", serde_json::json!({"type": "text", "src": "no.png"}), serde_json::json!([])),
                el(15, "use", serde_json::json!({"xlink:href": "sprite.svg#icon"}), serde_json::json!([])),
                el(16, "use", serde_json::json!({"href": "#local"}), serde_json::json!([])),
                el(17, "img", serde_json::json!({"src": "data:image/gif;base64,R0"}), serde_json::json!([])),
            ]))
        ]}}});
        let events = vec![
            serde_json::json!({"type": 4, "timestamp": 1, "data": {"href": "http://s.example/dir/page.html"}}),
            snapshot,
            serde_json::json!({"type": 3, "timestamp": 3, "data": {"source": 0, "texts": [{"id": 8, "value": "b{background:url(later.png)}"}],
                "attributes": [{"id": 11, "attributes": {"src": "changed.png", "style": {"background": ["url(diff.png)", "important"]}}},
                               {"id": 6, "attributes": {"href": "/still-not"}}],
                "removes": [], "adds": [{"parentId": 2, "node": el(20, "img", serde_json::json!({"src": "https://cdn.example/added.png"}), serde_json::json!([]))}]}}),
            serde_json::json!({"type": 3, "timestamp": 4, "data": {"source": 8, "id": 1, "adds": [{"rule": "c{background:url(rule.png)}", "index": 0}]}}),
        ];
        let d = "http://s.example/dir/";
        let mut want: Vec<String> = [
            "http://s.example/site.css".to_string(),
            format!("{d}in.png"),
            format!("{d}fav.ico"),
            format!("{d}im.css"),
            format!("{d}p1.webp"),
            format!("{d}p2.webp"),
            format!("{d}p.png"),
            format!("{d}q.png"),
            format!("{d}bgi.png"),
            format!("{d}poster.jpg"),
            format!("{d}btn.png"),
            format!("{d}sprite.svg"),
            format!("{d}later.png"),
            format!("{d}changed.png"),
            format!("{d}diff.png"),
            "https://cdn.example/added.png".into(),
            format!("{d}rule.png"),
        ]
        .into();
        want.sort();
        assert_eq!(scan(&events), want);
    }
}
