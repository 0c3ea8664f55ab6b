//! The canonical, injective byte encoding of an [`Event`] (spec in the crate docs).

use crate::text::{check_name, check_text};
use crate::{
    Action, Actor, AuditError, DetailName, DetailValue, Details, Event, Outcome, PublicText,
    ReasonCode, Surface,
};

/// The first byte of every v1 encoding.
pub const VERSION: u8 = 1;

/// No canonical encoding is longer than this (the field bounds keep real events far below it);
/// the decoder refuses longer input before reading it.
pub const MAX_ENCODED_LEN: usize = 64 * 1024;

const TAG_TEXT: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_BOOL: u8 = 2;

const OUTCOME_SUCCESS: u8 = 0;
const OUTCOME_FAILURE: u8 = 1;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Every encoded string is bounded by its type (≤ 512 bytes), so the length fits.
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
}

fn put_opt(out: &mut Vec<u8>, t: Option<&PublicText>) {
    match t {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            put_bytes(out, t.as_str().as_bytes());
        }
    }
}

fn text_len(t: &str) -> usize {
    4 + t.len()
}

fn opt_len(t: Option<&PublicText>) -> usize {
    1 + t.map_or(0, |t| text_len(t.as_str()))
}

/// The exact length of `encode(e)`.
fn encoded_len(e: &Event) -> usize {
    let mut n = 1 + 8;
    n += opt_len(e.workspace.as_ref());
    n += text_len(e.actor.sub.as_str());
    n += opt_len(e.actor.key_id.as_ref());
    n += text_len(e.actor.surface.as_str());
    n += opt_len(e.actor.source.as_ref());
    n += text_len(e.action.as_str());
    n += opt_len(e.target.as_ref());
    n += 1 + match &e.outcome {
        Outcome::Success => 0,
        Outcome::Failure(code) => text_len(code.as_str()),
    };
    n += text_len(e.request_id.as_str());
    n += 4;
    for (name, value) in e.details.iter() {
        n += text_len(name.as_str())
            + 1
            + match value {
                DetailValue::Text(t) => text_len(t.as_str()),
                DetailValue::Int(_) => 8,
                DetailValue::Bool(_) => 1,
            };
    }
    n
}

/// Appends the canonical encoding of `e` to `out`.
pub(crate) fn encode_into(e: &Event, out: &mut Vec<u8>) {
    out.reserve(encoded_len(e));
    out.push(VERSION);
    out.extend_from_slice(&e.time_ms.to_be_bytes());
    put_opt(out, e.workspace.as_ref());
    put_bytes(out, e.actor.sub.as_str().as_bytes());
    put_opt(out, e.actor.key_id.as_ref());
    put_bytes(out, e.actor.surface.as_str().as_bytes());
    put_opt(out, e.actor.source.as_ref());
    put_bytes(out, e.action.as_str().as_bytes());
    put_opt(out, e.target.as_ref());
    match &e.outcome {
        Outcome::Success => out.push(OUTCOME_SUCCESS),
        Outcome::Failure(code) => {
            out.push(OUTCOME_FAILURE);
            put_bytes(out, code.as_str().as_bytes());
        }
    }
    put_bytes(out, e.request_id.as_str().as_bytes());
    // At most Details::MAX_ENTRIES.
    let count = u32::try_from(e.details.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for (name, value) in e.details.iter() {
        put_bytes(out, name.as_str().as_bytes());
        match value {
            DetailValue::Text(t) => {
                out.push(TAG_TEXT);
                put_bytes(out, t.as_str().as_bytes());
            }
            DetailValue::Int(i) => {
                out.push(TAG_INT);
                out.extend_from_slice(&i.to_be_bytes());
            }
            DetailValue::Bool(b) => {
                out.push(TAG_BOOL);
                out.push(u8::from(*b));
            }
        }
    }
}

/// The canonical encoding of `e`.
pub(crate) fn encode(e: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(e));
    encode_into(e, &mut out);
    out
}

fn malformed(what: &'static str) -> AuditError {
    AuditError::Malformed { what }
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], AuditError> {
        if self.b.len() < n {
            return Err(malformed(what));
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, AuditError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, AuditError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, AuditError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, AuditError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(malformed(what)),
        }
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, AuditError> {
        let len = usize::try_from(self.u32(what)?).map_err(|_| malformed(what))?;
        let b = self.take(len, what)?;
        std::str::from_utf8(b).map_err(|_| malformed(what))
    }

    fn text(&mut self, what: &'static str) -> Result<&'a str, AuditError> {
        let s = self.str(what)?;
        check_text(s).map_err(|_| malformed(what))?;
        Ok(s)
    }

    fn opt_text(&mut self, what: &'static str) -> Result<Option<&'a str>, AuditError> {
        if self.flag(what)? {
            self.text(what).map(Some)
        } else {
            Ok(None)
        }
    }

    fn name(&mut self, what: &'static str) -> Result<&'a str, AuditError> {
        let s = self.str(what)?;
        check_name(s).map_err(|_| malformed(what))?;
        Ok(s)
    }
}

/// A detail value borrowed from an event's encoding (see [`view`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueView<'a> {
    /// Text.
    Text(&'a str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// An event borrowed from its canonical encoding, every field validated (see [`view`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct View<'a> {
    pub time_ms: i64,
    pub workspace: Option<&'a str>,
    pub sub: &'a str,
    pub key_id: Option<&'a str>,
    pub surface: Surface,
    pub source: Option<&'a str>,
    pub action: Action,
    pub target: Option<&'a str>,
    /// The failure's reason code; `None` for success.
    pub failure: Option<&'a str>,
    pub request_id: &'a str,
}

/// Reads a canonical encoding without allocating: the event's fields, borrowed, and each
/// detail given to `detail` in order. Validates exactly what [`Event::from_canonical`] does.
pub fn view<'a>(
    bytes: &'a [u8],
    detail: impl FnMut(&'a str, ValueView<'a>),
) -> Result<View<'a>, AuditError> {
    walk(bytes, detail)
}

/// Parses and validates `bytes` without allocating; each detail goes to `detail` in order.
fn walk<'a>(
    bytes: &'a [u8],
    mut detail: impl FnMut(&'a str, ValueView<'a>),
) -> Result<View<'a>, AuditError> {
    if bytes.len() > MAX_ENCODED_LEN {
        return Err(malformed("too long"));
    }
    let mut r = Reader { b: bytes };
    if r.u8("version")? != VERSION {
        return Err(malformed("version"));
    }
    let time_ms = r.i64("time_ms")?;
    let workspace = r.opt_text("workspace")?;
    let sub = r.text("actor.sub")?;
    let key_id = r.opt_text("actor.key_id")?;
    let surface = r
        .str("actor.surface")?
        .parse()
        .map_err(|_| malformed("actor.surface"))?;
    let source = r.opt_text("actor.source")?;
    let action = r.str("action")?.parse().map_err(|_| malformed("action"))?;
    let target = r.opt_text("target")?;
    let failure = match r.u8("outcome")? {
        OUTCOME_SUCCESS => None,
        OUTCOME_FAILURE => Some(r.name("outcome")?),
        _ => return Err(malformed("outcome")),
    };
    let request_id = r.text("request_id")?;
    let count = usize::try_from(r.u32("details")?).map_err(|_| malformed("details"))?;
    if count > Details::MAX_ENTRIES {
        return Err(malformed("details"));
    }
    let mut last: Option<&str> = None;
    for _ in 0..count {
        let name = r.name("detail name")?;
        // Strictly increasing: sorted and without duplicates, so the encoding is unique.
        if last.is_some_and(|l| l.as_bytes() >= name.as_bytes()) {
            return Err(malformed("detail order"));
        }
        last = Some(name);
        let value = match r.u8("detail value")? {
            TAG_TEXT => ValueView::Text(r.text("detail value")?),
            TAG_INT => ValueView::Int(r.i64("detail value")?),
            TAG_BOOL => ValueView::Bool(r.flag("detail value")?),
            _ => return Err(malformed("detail value")),
        };
        detail(name, value);
    }
    if !r.b.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    Ok(View {
        time_ms,
        workspace,
        sub,
        key_id,
        surface,
        source,
        action,
        target,
        failure,
        request_id,
    })
}

/// Whether `bytes` is a canonical v1 encoding (no allocation; the verifier's check).
pub(crate) fn check(bytes: &[u8]) -> Result<(), AuditError> {
    walk(bytes, |_, _| {}).map(|_| ())
}

/// Decodes a canonical v1 encoding.
pub(crate) fn decode(bytes: &[u8]) -> Result<Event, AuditError> {
    let mut details = Details::new();
    let mut overflow = false;
    let v = walk(bytes, |name, value| {
        let value = match value {
            ValueView::Text(t) => DetailValue::Text(PublicText::from_checked(t)),
            ValueView::Int(i) => DetailValue::Int(i),
            ValueView::Bool(b) => DetailValue::Bool(b),
        };
        overflow |= details
            .insert(DetailName::from_checked(name), value)
            .is_err();
    })?;
    if overflow {
        return Err(malformed("details"));
    }
    let text = PublicText::from_checked;
    Ok(Event {
        time_ms: v.time_ms,
        workspace: v.workspace.map(text),
        actor: Actor {
            sub: text(v.sub),
            key_id: v.key_id.map(text),
            surface: v.surface,
            source: v.source.map(text),
        },
        action: v.action,
        target: v.target.map(text),
        outcome: match v.failure {
            None => Outcome::Success,
            Some(code) => Outcome::Failure(ReasonCode::from_checked(code)),
        },
        request_id: text(v.request_id),
        details,
    })
}
