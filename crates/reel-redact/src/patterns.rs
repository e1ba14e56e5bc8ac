//! Pattern detectors (built-in and custom regexes) and the raw-JSON prefilter.
//!
//! Each pattern has a *precise* form, run on decoded string values, and a *relaxed* form (the same
//! regex without look-around assertions such as `\b`), run on an event's raw JSON text. Any match
//! of the precise form inside a string value is also a match of the relaxed form in the raw text,
//! as long as the matched span holds no character that JSON escapes (`"`, `\`, control chars);
//! events whose raw text holds a `\u` escape are always inspected in full. So an event whose raw
//! text has no (validated) relaxed match can be passed through without being parsed.
use crate::rules::{Located, Rules, RulesError};
use regex::Regex;
use regex_syntax::hir::{Hir, HirKind};
use std::ops::Range;

/// Which built-in validator confirms a candidate match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    Email,
    Card,
    Phone,
    Iban,
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone)]
pub struct Pattern {
    /// Name in the report: `email`, `card`, … or the custom pattern's name.
    pub name: String,
    precise: Regex,
    relaxed: regex::bytes::Regex,
    check: Check,
}

pub const BUILTINS: &[&str] = &[
    "email", "card", "phone", "iban", "jwt", "bearer", "ipv4", "ipv6",
];

fn builtin(name: &str) -> Option<(&'static str, Check)> {
    Some(match name {
        "email" => (
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}",
            Check::Email,
        ),
        // Digit runs with single space/dash separators; the Luhn check picks the card inside.
        "card" => (r"\b\d(?:[ \-]?\d){12,22}\b", Check::Card),
        "phone" => (
            r"\+\d{1,3}[ .\-]?\(?\d{1,4}\)?(?:[ .\-]?\d{2,4}){1,4}|\(\d{3}\) ?\d{3}[ .\-]\d{4}|\b\d{3}-\d{3}-\d{4}\b|\b\d{3}\.\d{3}\.\d{4}\b",
            Check::Phone,
        ),
        "iban" => (
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
            Check::Iban,
        ),
        "jwt" => (
            r"eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
            Check::None,
        ),
        "bearer" => (r"(?i)\bbearer[ \t]+[A-Za-z0-9\-._~+/]{8,}=*", Check::None),
        "ipv4" => (
            r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
            Check::Ipv4,
        ),
        "ipv6" => (
            r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|(?i)\b(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4}\b",
            Check::Ipv6,
        ),
        _ => return None,
    })
}

/// The same regex with every look-around assertion (`\b`, `^`, `$`) removed: it matches a superset.
fn relax(re: &str) -> Result<String, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(re)
        .map_err(|e| e.to_string())?;
    fn strip(h: &Hir) -> Hir {
        match h.kind() {
            HirKind::Look(_) => Hir::empty(),
            HirKind::Concat(xs) => Hir::concat(xs.iter().map(strip).collect()),
            HirKind::Alternation(xs) => Hir::alternation(xs.iter().map(strip).collect()),
            HirKind::Repetition(r) => {
                let mut r = r.clone();
                r.sub = Box::new(strip(&r.sub));
                Hir::repetition(r)
            }
            HirKind::Capture(c) => {
                let mut c = c.clone();
                c.sub = Box::new(strip(&c.sub));
                Hir::capture(c)
            }
            _ => h.clone(),
        }
    }
    Ok(strip(&hir).to_string())
}

impl Pattern {
    fn new(name: &str, re: &str, check: Check) -> Result<Pattern, String> {
        let precise = regex::RegexBuilder::new(re)
            .size_limit(1 << 24)
            .build()
            .map_err(|e| {
                e.to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })?;
        let relaxed_src = relax(re)?;
        let relaxed = regex::bytes::RegexBuilder::new(&relaxed_src)
            .unicode(false)
            .size_limit(1 << 24)
            .build()
            .or_else(|_| regex::bytes::RegexBuilder::new(&relaxed_src).build())
            .map_err(|e| e.to_string())?;
        Ok(Pattern {
            name: name.to_string(),
            precise,
            relaxed,
            check,
        })
    }

    /// Spans to mask in a decoded string.
    pub fn find(&self, s: &str, out: &mut Vec<Range<usize>>) {
        for m in self.precise.find_iter(s) {
            match self.check {
                Check::Card => card_spans(s.as_bytes(), m.range(), out),
                c => {
                    if validate(c, &s.as_bytes()[m.range()]) {
                        out.push(m.range())
                    }
                }
            }
        }
    }
}

fn validate(c: Check, t: &[u8]) -> bool {
    match c {
        Check::None => true,
        Check::Card => {
            let mut v = Vec::new();
            card_spans(t, 0..t.len(), &mut v);
            !v.is_empty()
        }
        Check::Email => {
            // `icon@2x.png` is a file name, not an address.
            let tld = t.rsplit(|b| *b == b'.').next().unwrap_or(b"");
            let tld = String::from_utf8_lossy(tld).to_ascii_lowercase();
            !matches!(
                tld.as_str(),
                "png"
                    | "jpg"
                    | "jpeg"
                    | "gif"
                    | "svg"
                    | "webp"
                    | "avif"
                    | "css"
                    | "js"
                    | "mjs"
                    | "woff"
                    | "woff2"
                    | "ttf"
                    | "ico"
                    | "map"
                    | "json"
                    | "html"
            )
        }
        Check::Phone => t.iter().filter(|b| b.is_ascii_digit()).count() >= 7,
        Check::Iban => iban_ok(t),
        Check::Ipv4 => {
            let parts: Vec<u32> = String::from_utf8_lossy(t)
                .split('.')
                .filter_map(|p| p.parse().ok())
                .collect();
            // Loopback, unspecified and private ranges name no person.
            let private = matches!(
                parts.as_slice(),
                [127, ..] | [0, ..] | [10, ..] | [192, 168, ..]
            ) || matches!(parts.as_slice(), [172, b, ..] if (16..=31).contains(b));
            let broadcast = parts.len() == 4 && parts.iter().all(|p| *p == 255);
            !private && !broadcast
        }
        Check::Ipv6 => {
            let groups = t.split(|b| *b == b':').filter(|g| !g.is_empty()).count();
            groups >= 3 && t.iter().any(|b| b.is_ascii_digit())
        }
    }
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = (*d - b'0') as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Card numbers inside a run of digits and separators: the whole run if it has 13–19 digits and
/// passes Luhn, else every group-aligned window of 13–19 digits that does.
fn card_spans(s: &[u8], run: Range<usize>, out: &mut Vec<Range<usize>>) {
    let t = &s[run.clone()];
    // Groups: (start, end) byte offsets of digit groups within t.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i].is_ascii_digit() {
            let st = i;
            while i < t.len() && t[i].is_ascii_digit() {
                i += 1;
            }
            groups.push((st, i));
        } else {
            i += 1;
        }
    }
    let digits_of = |a: usize, b: usize| -> Vec<u8> {
        t[groups[a].0..groups[b].1]
            .iter()
            .copied()
            .filter(u8::is_ascii_digit)
            .collect()
    };
    let mut a = 0;
    while a < groups.len() {
        let mut found = None;
        for b in (a..groups.len()).rev() {
            let d = digits_of(a, b);
            if (13..=19).contains(&d.len()) && luhn(&d) {
                found = Some(b);
                break;
            }
        }
        match found {
            Some(b) => {
                out.push(run.start + groups[a].0..run.start + groups[b].1);
                a = b + 1;
            }
            None => a += 1,
        }
    }
}

fn iban_ok(t: &[u8]) -> bool {
    let s: Vec<u8> = t.iter().copied().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&s.len()) {
        return false;
    }
    let mut r: u64 = 0;
    for &c in s[4..].iter().chain(&s[..4]) {
        let v = match c {
            b'0'..=b'9' => (c - b'0') as u64,
            b'A'..=b'Z' => (c - b'A') as u64 + 10,
            _ => return false,
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r == 1
}

/// All patterns of a rules set, and the prefilter over raw event JSON.
#[derive(Debug, Clone, Default)]
pub struct PatternSet {
    pub patterns: Vec<Pattern>,
    /// Union of the relaxed forms.
    union: Option<regex::bytes::Regex>,
    /// Literal needles (`name=` of masked query parameters).
    needles: Option<aho_corasick::AhoCorasick>,
}

impl PatternSet {
    pub fn compile(rules: &Rules, text: Option<&str>) -> Result<PatternSet, RulesError> {
        let mut patterns = Vec::new();
        let mut add_builtin = |name: &str, loc: &Located| -> Result<(), RulesError> {
            if patterns.iter().any(|p: &Pattern| p.name == name) {
                return Ok(());
            }
            let (re, check) = builtin(name).ok_or_else(|| {
                RulesError::at(
                    text,
                    loc.span(),
                    format!(
                        "patterns.builtin: unknown pattern {name:?} (known: {}, all)",
                        BUILTINS.join(", ")
                    ),
                )
            })?;
            // ASCII word boundaries: the fast engines cannot run Unicode `\b` on non-ASCII text.
            let re = re.replace(r"\b", r"(?-u:\b)");
            patterns.push(Pattern::new(name, &re, check).map_err(RulesError::new)?);
            Ok(())
        };
        for b in &rules.patterns.builtin {
            if b.get_ref() == "all" {
                for n in BUILTINS {
                    add_builtin(n, b)?;
                }
            } else {
                add_builtin(b.get_ref(), b)?;
            }
        }
        for c in &rules.patterns.custom {
            if c.regex.get_ref().is_empty() {
                return Err(RulesError::at(text, c.regex.span(), "empty regex"));
            }
            let p = Pattern::new(&c.name, c.regex.get_ref(), Check::None).map_err(|e| {
                RulesError::at(
                    text,
                    c.regex.span(),
                    format!("patterns.custom {:?}: bad regex: {e}", c.name),
                )
            })?;
            if p.precise.is_match("") {
                return Err(RulesError::at(
                    text,
                    c.regex.span(),
                    format!(
                        "patterns.custom {:?}: regex matches the empty string",
                        c.name
                    ),
                ));
            }
            patterns.push(p);
        }
        let union = if patterns.is_empty() {
            None
        } else {
            let alt: Vec<String> = patterns
                .iter()
                .map(|p| format!("(?:{})", p.relaxed.as_str()))
                .collect();
            Some(
                regex::bytes::RegexBuilder::new(&alt.join("|"))
                    .unicode(false)
                    .size_limit(1 << 26)
                    .dfa_size_limit(1 << 25)
                    .build()
                    .or_else(|_| regex::bytes::RegexBuilder::new(&alt.join("|")).build())
                    .map_err(|e| RulesError::new(format!("patterns: {e}")))?,
            )
        };
        let needles: Vec<String> = rules
            .urls
            .query_params
            .iter()
            .map(|q| format!("{q}="))
            .collect();
        let needles = if needles.is_empty() {
            None
        } else {
            Some(
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&needles)
                    .map_err(|e| RulesError::new(format!("urls.query_params: {e}")))?,
            )
        };
        Ok(PatternSet {
            patterns,
            union,
            needles,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty() && self.needles.is_none()
    }

    /// Could any pattern (or masked query parameter) apply to a string inside this raw JSON?
    /// False means: certainly not, the event may pass through unparsed.
    pub fn may_match(&self, raw: &[u8]) -> bool {
        self.candidates(raw) != 0
    }

    /// Which patterns may apply somewhere in this raw JSON: bit i for pattern i (patterns past
    /// the 63rd share bit 62), bit 63 for masked query parameters. 0: none, pass it through.
    pub fn candidates(&self, raw: &[u8]) -> u64 {
        self.candidate_spans(raw, None)
    }

    /// [`Self::candidates`], also collecting where the candidates are (byte ranges of `raw`) into
    /// `spans`. When the mask is non-zero and `spans` stays empty, positions are unknown (escapes):
    /// look at the whole event.
    pub fn candidate_spans(&self, raw: &[u8], mut spans: Option<&mut Vec<Range<usize>>>) -> u64 {
        const QUERY: u64 = 1 << 63;
        if self.is_empty() {
            return 0;
        }
        let bit = |i: usize| 1u64 << i.min(62);
        let all: u64 = (0..self.patterns.len()).fold(0, |m, i| m | bit(i))
            | if self.needles.is_some() { QUERY } else { 0 };
        if has_unicode_escape(raw) {
            return all;
        }
        let mut found = 0u64;
        if let Some(n) = &self.needles {
            for m in n.find_iter(raw) {
                found |= QUERY;
                match spans.as_mut() {
                    Some(sp) => sp.push(m.range()),
                    None => break,
                }
            }
        }
        let Some(u) = &self.union else { return found };
        let mut at = 0;
        while let Some(m) = u.find_at(raw, at) {
            let span = &raw[m.range()];
            // Digits of a JSON number (timestamps, ids, coordinates) are in no string: skip them
            // without asking every pattern.
            if span
                .iter()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-'))
                && json_number(raw, m.start(), m.end())
            {
                at = m.end().max(m.start() + 1);
                continue;
            }
            let mut hit = false;
            for (i, p) in self.patterns.iter().enumerate() {
                if found & bit(i) != 0 && spans.is_none() {
                    continue;
                }
                if let Some(pm) = p.relaxed.find(span) {
                    let t = &span[pm.range()];
                    let ok = match p.check {
                        Check::Card => {
                            validate(Check::Card, t)
                                && !json_number(raw, m.start() + pm.start(), m.start() + pm.end())
                        }
                        c => validate(c, t),
                    };
                    let (a, b) = (m.start() + pm.start(), m.start() + pm.end());
                    let ok = ok
                        && (!matches!(p.check, Check::Card | Check::Iban | Check::Ipv4)
                            || (word_edge(raw, a, true) && word_edge(raw, b, false)));
                    if ok {
                        found |= bit(i);
                        hit = true;
                        if let Some(sp) = spans.as_mut() {
                            sp.push(m.start() + pm.start()..m.start() + pm.end());
                        }
                    }
                }
            }
            if found == all && spans.is_none() {
                break;
            }
            // A validated hit consumed its span; otherwise look again one byte on (a failed
            // candidate may hide an overlapping one).
            at = if hit {
                m.end().max(m.start() + 1)
            } else {
                m.start() + 1
            };
        }
        found
    }
}

/// Whether position `i` of raw JSON is a word boundary on the `before` (or after) side, as the
/// precise patterns' `\b` sees the decoded text: a letter that ends an escape (`\n`) is no word.
fn word_edge(raw: &[u8], i: usize, before: bool) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if before {
        if i == 0 || !word(raw[i - 1]) {
            return true;
        }
        // `\n4111…`: the `n` belongs to an escape.
        let bs = raw[..i - 1]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        bs % 2 == 1
    } else {
        i >= raw.len() || !word(raw[i])
    }
}

/// Whether `raw[a..b]` is a whole JSON number that is an object member's value (`"k":123,`):
/// such digits are not inside any string.
fn json_number(raw: &[u8], a: usize, b: usize) -> bool {
    let mut i = a;
    while i > 0 && matches!(raw[i - 1], b'-' | b'+' | b'.' | b'0'..=b'9' | b'e' | b'E') {
        i -= 1;
    }
    while i > 0 && matches!(raw[i - 1], b' ' | b'\t' | b'\n' | b'\r') {
        i -= 1;
    }
    if i < 2 || raw[i - 1] != b':' {
        return false;
    }
    let mut j = i - 1;
    while j > 0 && matches!(raw[j - 1], b' ' | b'\t' | b'\n' | b'\r') {
        j -= 1;
    }
    if j == 0 || raw[j - 1] != b'"' {
        return false;
    }
    // The quote must end a string: an even number of backslashes before it.
    let q = j - 1;
    let bs = raw[..q].iter().rev().take_while(|b| **b == b'\\').count();
    if bs % 2 == 1 {
        return false;
    }
    let mut k = b;
    while k < raw.len() && matches!(raw[k], b'.' | b'0'..=b'9' | b'e' | b'E' | b'+' | b'-') {
        k += 1;
    }
    while k < raw.len() && matches!(raw[k], b' ' | b'\t' | b'\n' | b'\r') {
        k += 1;
    }
    k < raw.len() && matches!(raw[k], b',' | b'}')
}

/// Whether raw JSON holds a `\uXXXX` escape (a real one, not an escaped backslash followed by `u`).
fn has_unicode_escape(raw: &[u8]) -> bool {
    for i in memchr::memmem::find_iter(raw, b"\\u") {
        let bs = raw[..=i].iter().rev().take_while(|b| **b == b'\\').count();
        if bs % 2 == 1 {
            return true;
        }
    }
    false
}

/// Replace every non-whitespace character by `*` (same length in characters).
pub fn mask(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_whitespace() { c } else { '*' })
        .collect()
}

/// Whether a string is already fully masked (only `*` and whitespace).
pub fn is_masked(s: &str) -> bool {
    s.chars().all(|c| c == '*' || c.is_whitespace())
}

/// Mask the given byte ranges of `s` (merged, on char boundaries).
pub fn mask_ranges(s: &str, ranges: &mut [Range<usize>]) -> String {
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    for r in ranges.iter() {
        let st = r.start.max(pos);
        if st >= r.end {
            continue;
        }
        out.push_str(&s[pos..st]);
        out.push_str(&mask(&s[st..r.end]));
        pos = r.end;
    }
    out.push_str(&s[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::here;

    fn set(names: &[&str]) -> PatternSet {
        let mut r = Rules::default();
        r.patterns.builtin = names.iter().map(|n| here(n)).collect();
        PatternSet::compile(&r, None).unwrap()
    }

    fn hits(p: &PatternSet, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        for pat in &p.patterns {
            let mut v = Vec::new();
            pat.find(s, &mut v);
            out.extend(v.into_iter().map(|r| format!("{}:{}", pat.name, &s[r])));
        }
        out
    }

    #[test]
    fn builtins_find_what_they_should() {
        let p = set(&["all"]);
        assert_eq!(
            hits(&p, "mail zelda.canary@example.com now"),
            ["email:zelda.canary@example.com"]
        );
        assert!(hits(&p, "url(icon@2x.png)").is_empty());
        assert_eq!(
            hits(&p, "card 4111 1111 1111 1111."),
            ["card:4111 1111 1111 1111"]
        );
        assert_eq!(hits(&p, "4111111111111111"), ["card:4111111111111111"]);
        assert!(hits(&p, "4111111111111112").is_empty(), "Luhn");
        assert_eq!(hits(&p, "call +1-555-0142"), ["phone:+1-555-0142"]);
        assert_eq!(
            hits(&p, "GB82 WEST 1234 5698 7654 32"),
            ["iban:GB82 WEST 1234 5698 7654 32"]
        );
        assert_eq!(hits(&p, "ip 8.8.4.4 and 127.0.0.1"), ["ipv4:8.8.4.4"]);
        assert_eq!(
            hits(&p, "2001:db8:85a3::8a2e:370:7334"),
            ["ipv6:2001:db8:85a3::8a2e:370:7334"]
        );
        assert!(hits(&p, "a::before 12:30:45").is_empty());
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(hits(&p, jwt), [format!("jwt:{jwt}")]);
        assert_eq!(
            hits(&p, "Authorization: Bearer abcdefgh12345"),
            ["bearer:Bearer abcdefgh12345"]
        );
    }

    #[test]
    fn prefilter_skips_numbers_but_not_strings() {
        let p = set(&["card", "email"]);
        assert!(!p.may_match(br#"{"type":3,"timestamp":4111111111111111,"data":{"x":1}}"#));
        assert!(p.may_match(br#"{"type":3,"data":{"text":"4111111111111111"}}"#));
        assert!(
            p.may_match(br#"{"t":"a\n4111 1111 1111 1111"}"#),
            "escape before the match"
        );
        assert!(
            p.may_match(br#"{"t":"zelda\u002ecanary"}"#),
            "unicode escapes force a full look"
        );
        assert!(!p.may_match(br#"{"t":"\\u0041 plain"}"#));
        assert!(!p.may_match(br#"{"src":"icon@2x.png"}"#));
    }

    #[test]
    fn relax_removes_boundaries() {
        assert_eq!(relax(r"\bab\b").unwrap(), "(?:ab)");
        assert!(regex::Regex::new(&relax(r"^x$|\By").unwrap())
            .unwrap()
            .is_match("zx"));
    }

    #[test]
    fn masking_keeps_length_and_spaces() {
        assert_eq!(mask("ab c\u{e9}"), "** **");
        let mut r = vec![4..8, 0..2];
        assert_eq!(mask_ranges("abcdefghij", &mut r), "**cd****ij");
    }
}
