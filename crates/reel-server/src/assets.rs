//! Browser code embedded at build time (see build.rs): the player and Reel's recorder.
include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The embedded file served at `path`, if any.
pub fn get(path: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The player's ES modules inlined into one classic script that sets `window.ReelPlayer`.
///
/// The modules follow an inlining contract (web/player/README.md): single-line named imports of
/// sibling files at the top, `export` only before declarations, unique top-level names. So the
/// transform is: order files by imports from `index.js`, drop import lines, strip `export `.
pub fn player_script() -> Result<String, String> {
    fn source(name: &str) -> Result<&'static str, String> {
        let b = get(&format!("/player/{name}"))
            .ok_or_else(|| format!("player module {name} is missing"))?;
        std::str::from_utf8(b).map_err(|_| format!("player module {name} is not UTF-8"))
    }
    fn imports(code: &str) -> Vec<String> {
        code.lines()
            .filter_map(|l| l.strip_prefix("import {"))
            .filter_map(|l| l.split("from './").nth(1))
            .filter_map(|l| l.strip_suffix("';"))
            .map(str::to_string)
            .collect()
    }
    fn visit(
        name: &str,
        state: &mut std::collections::HashMap<String, u8>,
        order: &mut Vec<String>,
    ) -> Result<(), String> {
        match state.get(name) {
            Some(2) => return Ok(()),
            Some(1) => return Err(format!("import cycle through {name}")),
            _ => {}
        }
        state.insert(name.to_string(), 1);
        for d in imports(source(name)?) {
            visit(&d, state, order)?;
        }
        state.insert(name.to_string(), 2);
        order.push(name.to_string());
        Ok(())
    }
    let mut order = Vec::new();
    visit("index.js", &mut Default::default(), &mut order)?;
    let mut out = String::from("(() => {\n");
    for f in &order {
        out.push_str(&format!("// ---- {f}\n"));
        for line in source(f)?.lines() {
            if line.starts_with("import ") {
                continue;
            }
            out.push_str(line.strip_prefix("export ").unwrap_or(line));
            out.push('\n');
        }
    }
    out.push_str("window.ReelPlayer = ReelPlayer;\n})();\n");
    if out.contains("</script") {
        return Err("the player script contains '</script'".into());
    }
    Ok(out)
}

/// `player.html` made self-contained (CSS and JS inline) and, with `recording`, the recording
/// (a `.reel.zip`, JSON or JSONL) embedded: one file that plays from disk with the network off.
pub fn offline_html(recording: Option<&[u8]>) -> Result<String, String> {
    use base64::Engine;
    let html = std::str::from_utf8(get("/player/player.html").ok_or("player.html is missing")?)
        .map_err(|e| e.to_string())?;
    let css = std::str::from_utf8(get("/player/player.css").ok_or("player.css is missing")?)
        .map_err(|e| e.to_string())?;
    let js = player_script()?;
    let link = "<link rel=\"stylesheet\" href=\"./player.css\">";
    let import = "import { ReelPlayer } from './index.js';\n";
    let module = "<script type=\"module\">";
    for needle in [link, import, module] {
        if !html.contains(needle) {
            return Err(format!("player.html no longer contains {needle:?}"));
        }
    }
    let mut html = html
        .replacen(
            link,
            &format!("<style>\n{}</style>", css.replace("</style", "<\\/style")),
            1,
        )
        .replacen(import, "", 1)
        .replacen(module, &format!("<script>\n{js}</script>\n{module}"), 1);
    if let Some(bytes) = recording {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        html = html.replacen(
            "<!-- reel:embedded-recording -->",
            &format!(
                "<script type=\"application/octet-stream\" id=\"reel-recording\">{b64}</script>"
            ),
            1,
        );
    }
    Ok(html)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_player_inlines_into_one_script() {
        let js = super::player_script().unwrap();
        assert!(js.contains("class ReelPlayer"));
        assert!(!js
            .lines()
            .any(|l| l.starts_with("import ") || l.starts_with("export ")));
        let html = super::offline_html(Some(b"[]")).unwrap();
        assert!(html.contains("id=\"reel-recording\">W10=</script>"));
        assert!(!html.contains("./index.js") && !html.contains("./player.css"));
    }

    #[test]
    fn the_offline_player_sends_no_referrer() {
        let html = super::offline_html(Some(b"[]")).unwrap();
        let head = &html[..html.find("</head>").unwrap()];
        assert!(head.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
    }
}
