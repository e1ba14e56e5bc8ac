//! CSS selectors over the virtual DOM, with servo's `selectors` crate.
//!
//! Shadow roots and iframe documents are not boundaries here: an element's parent is the node it
//! hangs under (a shadow child's parent is its host). For redaction that is the safe reading:
//! `.secret span` also reaches spans inside `.secret`'s shadow root.
use crate::{Dom, NodeData};
use cssparser::{ParseError, ToCss};
use precomputed_hash::PrecomputedHash;
use selectors::attr::{AttrSelectorOperation, CaseSensitivity, NamespaceConstraint};
use selectors::context::{
    MatchingContext, MatchingForInvalidation, MatchingMode, NeedsSelectorFlags, QuirksMode,
    SelectorCaches,
};
use selectors::matching::ElementSelectorFlags;
use selectors::parser::{ParseRelative, SelectorImpl, SelectorList, SelectorParseErrorKind};
use selectors::{Element, OpaqueElement};
use std::fmt;

/// A parsed selector list (`a, .b > c`).
#[derive(Debug, Clone)]
pub struct Selector {
    source: String,
    list: SelectorList<Simple>,
    /// For each selector of the list, what its rightmost compound plainly requires of the element
    /// (tag, id, classes, attributes): a cheap necessary condition checked before the full match,
    /// which most elements fail. `None` when some selector requires nothing checkable (`*`,
    /// `:not(…)`, …): then every element gets the full match.
    needs: Option<Vec<Needs>>,
}

#[derive(Debug, Clone, Default)]
struct Needs {
    /// (name as written, lower-cased)
    tag: Option<(Atom, Atom)>,
    id: Option<Atom>,
    classes: Vec<Atom>,
    /// (name as written, lower-cased)
    attrs: Vec<(Atom, Atom)>,
}

impl Needs {
    fn of(sel: &selectors::parser::Selector<Simple>) -> Needs {
        use selectors::parser::Component;
        let mut n = Needs::default();
        for c in sel.iter() {
            match c {
                Component::LocalName(l) => n.tag = Some((l.name.clone(), l.lower_name.clone())),
                Component::ID(a) => n.id = Some(a.clone()),
                Component::Class(a) => n.classes.push(a.clone()),
                Component::AttributeInNoNamespaceExists {
                    local_name,
                    local_name_lower,
                } => n.attrs.push((local_name.clone(), local_name_lower.clone())),
                Component::AttributeInNoNamespace { local_name, .. } => {
                    n.attrs.push((local_name.clone(), local_name.clone()))
                }
                _ => {}
            }
        }
        n
    }

    fn is_empty(&self) -> bool {
        self.tag.is_none() && self.id.is_none() && self.classes.is_empty() && self.attrs.is_empty()
    }

    /// Whether `el` could match (uses the same element tests as the full match).
    fn admits(&self, el: El<'_>) -> bool {
        let cs = CaseSensitivity::CaseSensitive;
        let has_attr = |a: &Atom| {
            el.attr_matches(&NamespaceConstraint::Any, a, &AttrSelectorOperation::Exists)
        };
        self.tag
            .as_ref()
            .is_none_or(|(t, lower)| el.has_local_name(t) || el.has_local_name(lower))
            && self.id.as_ref().is_none_or(|i| el.has_id(i, cs))
            && self.classes.iter().all(|c| el.has_class(c, cs))
            && self
                .attrs
                .iter()
                .all(|(a, lower)| has_attr(a) || has_attr(lower))
    }
}

/// A selector that does not parse: the message and the column (1-based) where it went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid CSS selector {selector:?} at column {column}: {message}")]
pub struct SelectorError {
    pub selector: String,
    pub column: u32,
    pub message: String,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let mut parser = cssparser::Parser::new(text);
        let res =
            parser.parse_entirely(|p| SelectorList::parse(&SimpleParser, p, ParseRelative::No));
        match res {
            Ok(list) => {
                let needs: Vec<Needs> = list.slice().iter().map(Needs::of).collect();
                let needs = (!needs.iter().any(Needs::is_empty)).then_some(needs);
                Ok(Selector {
                    source: text.to_string(),
                    list,
                    needs,
                })
            }
            Err(e) => Err(error(text, e, parser.current_source_location().column)),
        }
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the selector uses sibling combinators or structural pseudo-classes, so that adding
    /// or removing a sibling can change what matches.
    pub fn depends_on_siblings(&self) -> bool {
        let s = &self.source;
        s.contains('+')
            || s.contains('~')
            || s.contains(":nth")
            || s.contains("-child")
            || s.contains("-of-type")
            || s.contains(":empty")
            || s.contains(":has")
    }

    /// The same selector without the cheap pre-check (tests compare both).
    #[cfg(test)]
    pub(crate) fn without_precheck(&self) -> Selector {
        Selector {
            needs: None,
            ..self.clone()
        }
    }

    pub(crate) fn matches_slot(&self, dom: &Dom, slot: u32) -> bool {
        if let Some(needs) = &self.needs {
            if !needs.iter().any(|n| n.admits(El { dom, slot })) {
                return false;
            }
        }
        let mut caches = SelectorCaches::default();
        let mut ctx = MatchingContext::new(
            MatchingMode::Normal,
            None,
            &mut caches,
            QuirksMode::NoQuirks,
            NeedsSelectorFlags::No,
            MatchingForInvalidation::No,
        );
        selectors::matching::matches_selector_list(&self.list, El { dom, slot }, &mut ctx)
    }
}

fn error(text: &str, e: ParseError<SelectorParseErrorKind>, column: u32) -> SelectorError {
    let message = match e.kind {
        cssparser::ParseErrorKind::Basic(b) => match b {
            cssparser::BasicParseErrorKind::UnexpectedToken => "unexpected token".into(),
            cssparser::BasicParseErrorKind::EndOfInput => "unexpected end".into(),
            other => format!("{other:?}"),
        },
        cssparser::ParseErrorKind::Custom(c) => match c {
            SelectorParseErrorKind::UnsupportedPseudoClassOrElement => {
                "unsupported pseudo-class or pseudo-element".into()
            }
            SelectorParseErrorKind::EmptySelector => "empty selector".into(),
            SelectorParseErrorKind::DanglingCombinator => "combinator with nothing after it".into(),
            other => format!("{other:?}"),
        },
    };
    SelectorError {
        selector: text.to_string(),
        column,
        message,
    }
}

// ---- the selector implementation ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple;

/// An identifier, local name, namespace or attribute value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Atom(String);

impl<'a> From<&'a str> for Atom {
    fn from(s: &'a str) -> Self {
        Atom(s.to_string())
    }
}
impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
impl ToCss for Atom {
    fn to_css<W: fmt::Write>(&self, dest: &mut W) -> fmt::Result {
        cssparser::serialize_identifier(&self.0, dest)
    }
}
impl PrecomputedHash for Atom {
    fn precomputed_hash(&self) -> u32 {
        // FNV-1a: only used for bloom filters.
        let mut h: u32 = 0x811c_9dc5;
        for b in self.0.bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
        h
    }
}

/// No non-tree-structural pseudo-classes (`:hover`, `:checked`, …) are supported: a recording has no
/// live state to test them against. Parsing one is an error, not a silent non-match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoPseudo {}
impl ToCss for NoPseudo {
    fn to_css<W: fmt::Write>(&self, _: &mut W) -> fmt::Result {
        match *self {}
    }
}
impl selectors::parser::NonTSPseudoClass for NoPseudo {
    fn is_active_or_hover(&self) -> bool {
        match *self {}
    }
    fn is_user_action_state(&self) -> bool {
        match *self {}
    }
}
impl selectors::parser::PseudoElement for NoPseudo {}

impl SelectorImpl for Simple {
    type ExtraMatchingData<'a> = std::marker::PhantomData<&'a ()>;
    type AttrValue = Atom;
    type Identifier = Atom;
    type LocalName = Atom;
    type NamespaceUrl = Atom;
    type NamespacePrefix = Atom;
    type BorrowedLocalName = Atom;
    type BorrowedNamespaceUrl = Atom;
    type NonTSPseudoClass = NoPseudo;
    type PseudoElement = NoPseudo;
}

struct SimpleParser;

impl<'i> selectors::parser::Parser<'i> for SimpleParser {
    type Impl = Simple;
    type Error = SelectorParseErrorKind;
    fn parse_is_and_where(&self) -> bool {
        true
    }
    fn parse_has(&self) -> bool {
        false
    }
}

/// An element handle for matching: the DOM and an arena slot.
#[derive(Clone, Copy)]
struct El<'a> {
    dom: &'a Dom,
    slot: u32,
}

impl fmt::Debug for El<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "El({})", self.dom.slot(self.slot).id)
    }
}

impl<'a> El<'a> {
    fn node(&self) -> &'a crate::Node {
        self.dom.slot(self.slot)
    }
    fn tag(&self) -> &'a str {
        self.node().tag().unwrap_or("")
    }
    fn sibling(&self, step: isize) -> Option<Self> {
        let p = self.dom.parent_slot(self.slot)?;
        let kids = self.dom.children_slots(p);
        let mut i = kids.iter().position(|c| *c == self.slot)? as isize;
        loop {
            i += step;
            if i < 0 || i as usize >= kids.len() {
                return None;
            }
            let s = kids[i as usize];
            if self.dom.slot(s).is_element() {
                return Some(El {
                    dom: self.dom,
                    slot: s,
                });
            }
        }
    }
}

impl<'a> Element for El<'a> {
    type Impl = Simple;

    fn opaque(&self) -> OpaqueElement {
        OpaqueElement::new(self.node())
    }
    fn parent_element(&self) -> Option<Self> {
        let p = self.dom.parent_slot(self.slot)?;
        self.dom.slot(p).is_element().then_some(El {
            dom: self.dom,
            slot: p,
        })
    }
    fn parent_node_is_shadow_root(&self) -> bool {
        false
    }
    fn containing_shadow_host(&self) -> Option<Self> {
        None
    }
    fn is_pseudo_element(&self) -> bool {
        false
    }
    fn prev_sibling_element(&self) -> Option<Self> {
        self.sibling(-1)
    }
    fn next_sibling_element(&self) -> Option<Self> {
        self.sibling(1)
    }
    fn first_element_child(&self) -> Option<Self> {
        self.dom
            .children_slots(self.slot)
            .iter()
            .find(|c| self.dom.slot(**c).is_element())
            .map(|c| El {
                dom: self.dom,
                slot: *c,
            })
    }
    fn is_html_element_in_html_document(&self) -> bool {
        !matches!(self.node().data, NodeData::Element { svg: true, .. })
    }
    fn has_local_name(&self, name: &Atom) -> bool {
        self.tag().eq_ignore_ascii_case(&name.0)
    }
    fn has_namespace(&self, _ns: &Atom) -> bool {
        true
    }
    fn is_same_type(&self, other: &Self) -> bool {
        self.tag() == other.tag()
    }
    fn attr_matches(
        &self,
        _ns: &NamespaceConstraint<&Atom>,
        local_name: &Atom,
        operation: &AttrSelectorOperation<&Atom>,
    ) -> bool {
        self.node()
            .attrs()
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(&local_name.0) && operation.eval_str(v))
    }
    fn match_non_ts_pseudo_class(
        &self,
        pc: &NoPseudo,
        _context: &mut MatchingContext<Simple>,
    ) -> bool {
        match *pc {}
    }
    fn match_pseudo_element(&self, pe: &NoPseudo, _context: &mut MatchingContext<Simple>) -> bool {
        match *pe {}
    }
    fn apply_selector_flags(&self, _flags: ElementSelectorFlags) {}
    fn is_link(&self) -> bool {
        matches!(self.tag(), "a" | "area" | "link") && self.node().attr("href").is_some()
    }
    fn is_html_slot_element(&self) -> bool {
        self.tag() == "slot"
    }
    fn has_id(&self, id: &Atom, cs: CaseSensitivity) -> bool {
        self.node()
            .attr("id")
            .is_some_and(|v| cs.eq(v.as_bytes(), id.0.as_bytes()))
    }
    fn has_class(&self, name: &Atom, cs: CaseSensitivity) -> bool {
        self.node().attr("class").is_some_and(|v| {
            v.split_ascii_whitespace()
                .any(|c| cs.eq(c.as_bytes(), name.0.as_bytes()))
        })
    }
    fn has_custom_state(&self, _name: &Atom) -> bool {
        false
    }
    fn imported_part(&self, _name: &Atom) -> Option<Atom> {
        None
    }
    fn is_part(&self, _name: &Atom) -> bool {
        false
    }
    fn is_empty(&self) -> bool {
        self.dom
            .children_slots(self.slot)
            .iter()
            .all(|c| match &self.dom.slot(*c).data {
                NodeData::Element { .. } => false,
                NodeData::Text { text, .. } => text.is_empty(),
                _ => true,
            })
    }
    fn is_root(&self) -> bool {
        match self.dom.parent_slot(self.slot) {
            Some(p) => matches!(self.dom.slot(p).data, NodeData::Document),
            None => false,
        }
    }
    fn add_element_unique_hashes(&self, _filter: &mut selectors::bloom::BloomFilter) -> bool {
        false
    }
}
