//! HTML serialisation of the virtual DOM (for `reel dom` and tests).
//!
//! Shadow roots are written as declarative `<template shadowrootmode="open">`; an iframe's
//! document is written inside its `<iframe>` element, so the whole page reads as one text.
use crate::{Dom, NodeData, NodeId};

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "param",
];

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

impl Dom {
    /// The whole page as HTML (empty before the first FullSnapshot).
    pub fn html(&self) -> String {
        let mut out = String::new();
        if let Some(r) = self.root_slot() {
            self.write(r, &mut out, false);
        }
        out
    }

    /// One node with its descendants as HTML.
    pub fn outer_html(&self, id: NodeId) -> String {
        let mut out = String::new();
        if let Some(s) = self.slot_of(id) {
            self.write(s, &mut out, false);
        }
        out
    }

    fn write(&self, s: u32, out: &mut String, raw_text: bool) {
        // Iterative: a stack of "open node" and "close tag" steps.
        enum Step<'a> {
            Open(u32, bool),
            Close(&'a str),
            Str(&'static str),
        }
        let mut stack = vec![Step::Open(s, raw_text)];
        while let Some(step) = stack.pop() {
            let (s, raw) = match step {
                Step::Close(tag) => {
                    out.push_str("</");
                    out.push_str(tag);
                    out.push('>');
                    continue;
                }
                Step::Str(t) => {
                    out.push_str(t);
                    continue;
                }
                Step::Open(s, raw) => (s, raw),
            };
            let n = self.slot(s);
            let kids = self.children_slots(s);
            match &n.data {
                NodeData::Document => {
                    for k in kids.iter().rev() {
                        stack.push(Step::Open(*k, false));
                    }
                }
                NodeData::Doctype { name, .. } => {
                    out.push_str("<!DOCTYPE ");
                    out.push_str(if name.is_empty() { "html" } else { name });
                    out.push('>');
                }
                NodeData::Text { text, .. } => {
                    if raw {
                        out.push_str(text)
                    } else {
                        escape_text(text, out)
                    }
                }
                NodeData::CData => out.push_str("<![CDATA[]]>"),
                NodeData::Comment { text } => {
                    out.push_str("<!--");
                    out.push_str(text);
                    out.push_str("-->");
                }
                NodeData::Element { tag, attrs, .. } => {
                    out.push('<');
                    out.push_str(tag);
                    for (k, v) in attrs {
                        out.push(' ');
                        out.push_str(k);
                        out.push_str("=\"");
                        escape_attr(v, out);
                        out.push('"');
                    }
                    out.push('>');
                    if VOID.contains(&tag.as_str()) && kids.is_empty() {
                        continue;
                    }
                    let raw = matches!(tag.as_str(), "style" | "script");
                    stack.push(Step::Close(tag));
                    let (shadow, light): (Vec<u32>, Vec<u32>) =
                        kids.iter().partition(|k| self.slot(**k).shadow);
                    for k in light.iter().rev() {
                        stack.push(Step::Open(*k, raw));
                    }
                    if !shadow.is_empty() {
                        stack.push(Step::Str("</template>"));
                        for k in shadow.iter().rev() {
                            stack.push(Step::Open(*k, raw));
                        }
                        stack.push(Step::Str("<template shadowrootmode=\"open\">"));
                    }
                }
            }
        }
    }
}
