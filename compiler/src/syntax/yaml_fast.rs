//! The fast path of [`super::yaml::parse`]: a hand-written parser for the YAML that
//! Kubernetes manifests and Tekton files are written in, several times cheaper than the
//! event parser (issue 11, point 7).
//!
//! It answers with exactly the [`ParsedFile`] the reference path
//! ([`super::yaml::parse_granit`]) gives (every node, span, scalar text and kind, entry order,
//! duplicate-key diagnostic) or declines with `None`, and the whole file goes to the
//! reference path. It declines on anything outside its subset (anchors, aliases, tags, merge
//! keys, complex keys, directives, multi-line plain and quoted scalars, rare escapes, tabs
//! outside scalars and comments, CR, BOM, control characters, deep nesting) and on
//! everything that would be an error, so granit stays the only source of YAML error
//! diagnostics. The differential tests (`compiler/tests/yaml_fast.rs`) and fuzz target
//! (`fuzz/fuzz_targets/yaml_fast.rs`) hold it to the reference.
//!
//! The spans follow granit's events: a block collection starts at its first key or `-` and
//! ends at the next token at a lower indentation (after comments and blank lines), the end of
//! the document or the end of the file; an indentless sequence (`key:` then `- item` at the
//! key's column) starts at the first token after its first `-` (the line break when there is
//! none); a block scalar runs from its header ([`super::yaml`]'s `block_scalar_start`) to the
//! first non-space character of the line that ends it; an empty value is a null at the `:`
//! of its key, an empty item a null at the line break after its `-`.

use super::yaml::{add_entry, resolve_plain};
use super::{Entry, Map, Node, ParsedFile, Scalar, ScalarKind, Value};
use crate::diag::Diagnostic;
use crate::source::{FileId, Span, Syntax};
use std::collections::HashSet;

/// Collections nested deeper than this are left to the reference path, which owns the
/// nesting limit's diagnostic ([`super::yaml::MAX_DEPTH`] is far above it).
const FAST_MAX_DEPTH: usize = 64;

/// Longest key the fast path accepts: YAML limits implicit keys to 1024 characters.
const MAX_KEY_LEN: usize = 1024;

/// Parses `text`, or returns `None` when it is outside the fast path's subset.
pub fn parse(file: FileId, text: &str) -> Option<ParsedFile> {
    if u32::try_from(text.len()).is_err() || !plain_bytes(text.as_bytes()) {
        return None;
    }
    let mut parser = Fast {
        text,
        bytes: text.as_bytes(),
        file,
        pos: 0,
        line_start: 0,
        next: None,
        depth: 0,
        documents: Vec::new(),
        diagnostics: Vec::new(),
    };
    parser.stream()?;
    Some(ParsedFile {
        documents: parser.documents,
        diagnostics: parser.diagnostics,
    })
}

/// False when the text has a byte the fast path leaves to the reference: a carriage return,
/// a control character other than newline and tab, a byte order mark, or a character YAML
/// treats specially (C1 controls, U+2028/U+2029, U+FFFE/U+FFFF).
fn plain_bytes(bytes: &[u8]) -> bool {
    // Nearly every chunk is printable ASCII, checked without a branch per byte; the others
    // byte by byte.
    const CHUNK: usize = 16;
    let clean = |chunk: &[u8]| {
        chunk.iter().fold(true, |ok, &b| {
            ok & ((0x20..0x7f).contains(&b) | (b == b'\n') | (b == b'\t'))
        })
    };
    (0..bytes.len()).step_by(CHUNK).all(|start| {
        let end = (start + CHUNK).min(bytes.len());
        clean(&bytes[start..end]) || (start..end).all(|at| !special_byte(bytes, at))
    })
}

/// Whether the byte at `at` is one [`plain_bytes`] refuses (or starts such a character).
fn special_byte(bytes: &[u8], at: usize) -> bool {
    let b = bytes[at];
    if (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t' {
        return false;
    }
    let next = bytes.get(at + 1).copied().unwrap_or(0);
    let third = bytes.get(at + 2).copied().unwrap_or(0);
    match b {
        0xc2 => next < 0xa0,
        0xe2 => next == 0x80 && matches!(third, 0xa8 | 0xa9),
        0xef => next == 0xbb && third == 0xbf || next == 0xbf && matches!(third, 0xbe | 0xbf),
        _ => b < 0x80,
    }
}

/// The bytes a plain scalar may end at (or that make the fast path decline), in block and
/// in flow context: [`Fast::plain`] skips every other byte without looking closer.
const BLOCK_STOPS: [bool; 256] = stops(b"\n\t:#");
const FLOW_STOPS: [bool; 256] = stops(b"\n\t:#,[]{}");

const fn stops(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

struct Fast<'a> {
    text: &'a str,
    bytes: &'a [u8],
    file: FileId,
    /// The current byte.
    pos: usize,
    /// Where the current line starts (columns are bytes from here; indentation is spaces).
    line_start: usize,
    /// The column of the token at `pos` after [`Fast::skip_to_token`]; `None` at the end of
    /// the document (end of input or a `---`/`...` marker), which closes every collection.
    next: Option<usize>,
    depth: usize,
    documents: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
}

/// A scalar as written: its value, where it is, and whether it was plain (unquoted).
struct Written {
    text: String,
    span: Span,
    plain: bool,
}

impl<'a> Fast<'a> {
    fn byte(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn column(&self) -> usize {
        self.pos - self.line_start
    }

    /// The documents of the stream, each a block mapping or sequence at column 0.
    fn stream(&mut self) -> Option<()> {
        let mut after_end_marker = false;
        self.skip_to_token()?;
        loop {
            if self.pos >= self.bytes.len() {
                return Some(());
            }
            if self.at_marker(b"---") {
                self.pos += 3;
                self.finish_line()?;
                self.skip_to_token()?;
                after_end_marker = false;
            } else if self.at_marker(b"...") {
                self.pos += 3;
                self.finish_line()?;
                self.skip_to_token()?;
                after_end_marker = true;
                continue;
            } else if after_end_marker {
                // A bare document after `...`: rare, left to the reference.
                return None;
            }
            match self.next {
                None => continue,
                Some(0) => {}
                Some(_) => return None,
            }
            let root = self.block_node(0)?;
            self.documents.push(root);
            if self.next.is_some() {
                return None;
            }
        }
    }

    /// `---` or `...` at the start of a line, followed by a space, a line break or the end.
    fn at_marker(&self, marker: &[u8; 3]) -> bool {
        self.pos == self.line_start
            && self.bytes[self.pos..].starts_with(marker)
            && matches!(self.byte(self.pos + 3), None | Some(b' ' | b'\n' | b'\t'))
    }

    /// Moves from the start of a line to the next token, over blank lines and comment lines,
    /// and records its column in `next`.
    fn skip_to_token(&mut self) -> Option<()> {
        loop {
            let line = self.pos;
            let mut at = line;
            while self.byte(at) == Some(b' ') {
                at += 1;
            }
            match self.byte(at) {
                None => {
                    self.pos = at;
                    self.next = None;
                    return Some(());
                }
                Some(b'\n') => self.new_line(at + 1),
                Some(b'#') => {
                    let end = self.line_end(at);
                    if end >= self.bytes.len() {
                        self.pos = end;
                        self.next = None;
                        return Some(());
                    }
                    self.new_line(end + 1);
                }
                Some(b'\t') => return None,
                Some(_) => {
                    self.pos = at;
                    self.line_start = line;
                    let at_marker = self.at_marker(b"---") || self.at_marker(b"...");
                    self.next = if at_marker { None } else { Some(at - line) };
                    return Some(());
                }
            }
        }
    }

    fn new_line(&mut self, at: usize) {
        self.pos = at;
        self.line_start = at;
    }

    /// The line break at or after `at`, or the end of the input.
    fn line_end(&self, at: usize) -> usize {
        self.bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |n| at + n)
    }

    fn skip_spaces(&mut self) {
        while self.byte(self.pos) == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Ends a line after its content: spaces, maybe a comment, then the line break (consumed)
    /// or the end of the input. Returns where the line break is.
    fn finish_line(&mut self) -> Option<usize> {
        self.skip_spaces();
        let at = match self.byte(self.pos) {
            None => self.pos,
            Some(b'\n') => self.pos,
            // A comment needs a space before it.
            Some(b'#') if self.pos > 0 && self.bytes[self.pos - 1] == b' ' => {
                self.line_end(self.pos)
            }
            Some(_) => return None,
        };
        if at < self.bytes.len() {
            self.new_line(at + 1);
        } else {
            self.pos = at;
        }
        Some(at)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < FAST_MAX_DEPTH).then_some(())
    }

    /// `-` followed by a space, a line break or the end: a block sequence entry.
    fn at_entry(&self) -> bool {
        self.byte(self.pos) == Some(b'-')
            && matches!(self.byte(self.pos + 1), None | Some(b' ' | b'\n'))
    }

    /// A block collection whose first token is at `pos`, at column `column`.
    fn block_node(&mut self, column: usize) -> Option<Node> {
        if self.at_entry() {
            self.block_seq(column, false)
        } else {
            self.block_map(column, None)
        }
    }

    /// A block mapping at `column`; `first` is its first key when a sequence item already
    /// read it (`- name: x`).
    fn block_map(&mut self, column: usize, first: Option<(String, Span, usize)>) -> Option<Node> {
        self.enter()?;
        let start = match &first {
            Some((_, span, _)) => span.start as usize,
            None => self.pos,
        };
        let mut entries = Vec::new();
        let mut keys: Option<HashSet<String>> = None;
        let mut first = first;
        loop {
            let (key, key_span, colon) = match first.take() {
                Some(key) => key,
                None => self.map_key()?,
            };
            let value = self.map_value(column, colon)?;
            let entry = Entry {
                key,
                key_span,
                value,
            };
            add_entry(&mut entries, &mut keys, entry, &mut self.diagnostics);
            match self.next {
                Some(next) if next == column => {}
                Some(next) if next > column => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        let map = Map {
            entries,
            args: Vec::new(),
        };
        Some(Node::new(
            Value::Map(map),
            self.span(start, self.pos),
            Syntax::Yaml,
        ))
    }

    /// A key and its `:`; returns the key, its span and where the `:` is.
    fn map_key(&mut self) -> Option<(String, Span, usize)> {
        let written = self.block_scalar_inline()?;
        self.skip_spaces();
        let colon = self.pos;
        if !self.at_value_indicator() {
            return None;
        }
        self.pos += 1;
        let span = written.span;
        Some((key_text(written, colon)?, span, colon))
    }

    /// `:` followed by a space, a line break or the end.
    fn at_value_indicator(&self) -> bool {
        self.byte(self.pos) == Some(b':')
            && matches!(self.byte(self.pos + 1), None | Some(b' ' | b'\n'))
    }

    /// The value after `key:` in a mapping at `column`.
    fn map_value(&mut self, column: usize, colon: usize) -> Option<Node> {
        self.skip_spaces();
        if matches!(self.byte(self.pos), None | Some(b'\n' | b'#')) {
            self.finish_line()?;
            self.skip_to_token()?;
            return match self.next {
                Some(next) if next > column => self.block_node(next),
                Some(next) if next == column && self.at_entry() => self.block_seq(column, true),
                _ => Some(self.null(colon)),
            };
        }
        self.inline_node(column, false)
    }

    fn null(&self, at: usize) -> Node {
        Node::new(Value::Null, self.span(at, at), Syntax::Yaml)
    }

    /// A block sequence at `column`; `indentless` when it is a mapping value at the key's
    /// column, which starts it at the first token after its first `-`.
    fn block_seq(&mut self, column: usize, indentless: bool) -> Option<Node> {
        self.enter()?;
        let mut start = self.pos;
        let mut items = Vec::new();
        loop {
            self.pos += 1;
            self.skip_spaces();
            let item = if matches!(self.byte(self.pos), None | Some(b'\n' | b'#')) {
                let line_break = self.finish_line()?;
                if indentless && items.is_empty() {
                    start = line_break;
                }
                self.skip_to_token()?;
                match self.next {
                    Some(next) if next > column => self.block_node(next)?,
                    _ => self.null(line_break),
                }
            } else {
                if indentless && items.is_empty() {
                    start = self.pos;
                }
                self.inline_node(column, true)?
            };
            items.push(item);
            match self.next {
                Some(next) if next == column && self.at_entry() => {}
                Some(next) if next == column && indentless => break,
                Some(next) if next >= column => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        Some(Node::new(
            Value::Seq(items),
            self.span(start, self.pos),
            Syntax::Yaml,
        ))
    }

    /// A node that starts on the current line after a `key:` or `-` of a collection at
    /// `parent` (the column block scalars indent from). `in_sequence` allows what only a
    /// sequence item may hold on its line: a nested sequence (`- - a`) or mapping
    /// (`- name: x`). Leaves `pos` at the next token.
    fn inline_node(&mut self, parent: usize, in_sequence: bool) -> Option<Node> {
        let column = self.column();
        let node = match self.byte(self.pos)? {
            b'|' | b'>' => return self.block_scalar(parent),
            b'[' | b'{' => self.flow_node()?,
            b'-' if in_sequence && self.at_entry() => return self.block_seq(column, false),
            _ => {
                let written = self.block_scalar_inline()?;
                self.skip_spaces();
                if self.at_value_indicator() {
                    if !in_sequence {
                        return None;
                    }
                    let colon = self.pos;
                    self.pos += 1;
                    let span = written.span;
                    let key = key_text(written, colon)?;
                    return self.block_map(column, Some((key, span, colon)));
                }
                scalar_node(written)
            }
        };
        self.finish_line()?;
        self.skip_to_token()?;
        Some(node)
    }

    /// A one-line scalar in block context: double- or single-quoted, or plain.
    fn block_scalar_inline(&mut self) -> Option<Written> {
        match self.byte(self.pos)? {
            b'"' | b'\'' => self.quoted(),
            _ => self.plain(false),
        }
    }

    /// A plain scalar on one line: it ends at `: `, ` #` or the line break, and in flow
    /// context also at `,`, `[`, `]`, `{`, `}` and any `:`. A plain scalar continued on the
    /// next line is declined by the caller, which finds no token it expects there.
    fn plain(&mut self, flow: bool) -> Option<Written> {
        let start = self.pos;
        let first = self.byte(start)?;
        let next = self.byte(start + 1);
        let starts_plain = match first {
            b'-' => !matches!(next, None | Some(b' ' | b'\n' | b'\t' | b',' | b']' | b'}')),
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' | b'\t' | b'\n' => false,
            _ => true,
        };
        if !starts_plain {
            return None;
        }
        let stops = if flow { &FLOW_STOPS } else { &BLOCK_STOPS };
        let mut at = start;
        loop {
            while at < self.bytes.len() && !stops[usize::from(self.bytes[at])] {
                at += 1;
            }
            let Some(b) = self.byte(at) else {
                break;
            };
            match b {
                b'\n' => break,
                b'\t' => return None,
                b':' if flow => break,
                b':' if matches!(self.byte(at + 1), None | Some(b' ' | b'\n')) => break,
                b'#' if self.bytes[at - 1] == b' ' => break,
                b',' | b'[' | b']' | b'{' | b'}' if flow => break,
                _ => {}
            }
            at += 1;
        }
        let mut end = at;
        while self.bytes[end - 1] == b' ' {
            end -= 1;
        }
        self.pos = at;
        Some(Written {
            text: self.text[start..end].to_owned(),
            span: self.span(start, end),
            plain: true,
        })
    }

    /// A quoted scalar on one line: double-quoted with the common escapes, or single-quoted
    /// (`''` is a quote).
    fn quoted(&mut self) -> Option<Written> {
        let start = self.pos;
        let quote = self.bytes[start];
        let mut text = String::new();
        let mut run = start + 1;
        let mut at = run;
        loop {
            match self.byte(at)? {
                b'\\' if quote == b'"' => {
                    text.push_str(&self.text[run..at]);
                    let unescaped = match self.byte(at + 1)? {
                        b'\\' => '\\',
                        b'"' => '"',
                        b'/' => '/',
                        b'n' => '\n',
                        b't' => '\t',
                        _ => return None,
                    };
                    text.push(unescaped);
                    at += 2;
                    run = at;
                }
                b'\'' if quote == b'\'' && self.byte(at + 1) == Some(b'\'') => {
                    text.push_str(&self.text[run..=at]);
                    at += 2;
                    run = at;
                }
                b if b == quote => break,
                b'\n' => return None,
                _ => at += 1,
            }
        }
        text.push_str(&self.text[run..at]);
        self.pos = at + 1;
        Some(Written {
            text,
            span: self.span(start, at + 1),
            plain: false,
        })
    }

    /// A flow sequence or mapping; its items may be on several lines, each item on one.
    fn flow_node(&mut self) -> Option<Node> {
        self.enter()?;
        let start = self.pos;
        let close = if self.bytes[start] == b'[' {
            b']'
        } else {
            b'}'
        };
        self.pos += 1;
        let mut items = Vec::new();
        let mut entries = Vec::new();
        let mut keys: Option<HashSet<String>> = None;
        loop {
            self.skip_flow_space()?;
            if self.byte(self.pos)? == close {
                break;
            }
            if close == b']' {
                items.push(self.flow_item()?);
            } else {
                let written = match self.byte(self.pos)? {
                    b'"' | b'\'' => self.quoted()?,
                    _ => self.plain(true)?,
                };
                self.skip_spaces();
                if !(self.byte(self.pos) == Some(b':') && self.byte(self.pos + 1) == Some(b' ')) {
                    return None;
                }
                let colon = self.pos;
                self.pos += 1;
                self.skip_spaces();
                let key_span = written.span;
                let key = key_text(written, colon)?;
                let value = self.flow_item()?;
                let entry = Entry {
                    key,
                    key_span,
                    value,
                };
                add_entry(&mut entries, &mut keys, entry, &mut self.diagnostics);
            }
            self.skip_flow_space()?;
            match self.byte(self.pos)? {
                b',' => self.pos += 1,
                b if b == close => break,
                _ => return None,
            }
        }
        self.pos += 1;
        self.depth -= 1;
        let value = if close == b']' {
            Value::Seq(items)
        } else {
            Value::Map(Map {
                entries,
                args: Vec::new(),
            })
        };
        Some(Node::new(value, self.span(start, self.pos), Syntax::Yaml))
    }

    /// Skips the spaces, line breaks and comments between the tokens of a flow collection
    /// (granit takes its lines at any indentation); declines on a tab or a document marker.
    fn skip_flow_space(&mut self) -> Option<()> {
        loop {
            match self.byte(self.pos) {
                Some(b' ') => self.pos += 1,
                Some(b'\n') => {
                    self.new_line(self.pos + 1);
                    if self.at_marker(b"---") || self.at_marker(b"...") {
                        return None;
                    }
                }
                Some(b'#') if self.pos == self.line_start || self.bytes[self.pos - 1] == b' ' => {
                    self.pos = self.line_end(self.pos);
                }
                Some(b'\t') => return None,
                _ => return Some(()),
            }
        }
    }

    /// An item of a flow collection: a scalar or a nested flow collection, not a pair.
    fn flow_item(&mut self) -> Option<Node> {
        let written = match self.byte(self.pos)? {
            b'[' | b'{' => return self.flow_node(),
            b'"' | b'\'' => self.quoted()?,
            _ => self.plain(true)?,
        };
        self.skip_spaces();
        if self.byte(self.pos) == Some(b':') {
            return None;
        }
        Some(scalar_node(written))
    }

    /// A literal (`|`) or folded (`>`) block scalar after a `key:` or `-` of a collection at
    /// `parent`, folded and chomped as libyaml (which granit follows) does. Leaves `pos` at
    /// the next token.
    fn block_scalar(&mut self, parent: usize) -> Option<Node> {
        let header = self.pos;
        let folded = self.bytes[header] == b'>';
        self.pos += 1;
        let mut chomp = None;
        let mut increment = None;
        for _ in 0..2 {
            match self.byte(self.pos) {
                Some(b @ (b'+' | b'-')) if chomp.is_none() => chomp = Some(b),
                Some(b @ b'1'..=b'9') if increment.is_none() => increment = Some(b - b'0'),
                _ => break,
            }
            self.pos += 1;
        }
        let indicators_end = self.pos;
        let line_break = self.finish_line()?;
        // `block_scalar_start` finds the header by searching the header line from its end;
        // a `|` or `>` in a trailing comment would mislead it.
        if self.text[indicators_end..line_break].contains(['|', '>'])
            || line_break >= self.bytes.len()
        {
            return None;
        }
        if self.content_starts_like_header() {
            return None;
        }
        let indent = match increment {
            Some(n) => parent + usize::from(n),
            None => self.detect_indent(parent)?,
        };

        let mut text = String::new();
        let mut leading_break = false;
        let mut leading_blank = false;
        let mut trailing_breaks = 0usize;
        let end;
        loop {
            let line = self.pos;
            let mut at = line;
            while at < line + indent && self.byte(at) == Some(b' ') {
                at += 1;
            }
            match self.byte(at) {
                None => {
                    end = at;
                    break;
                }
                Some(b'\n') => {
                    trailing_breaks += 1;
                    self.new_line(at + 1);
                    continue;
                }
                Some(b'\t') if at < line + indent => return None,
                Some(_) if at < line + indent => {
                    end = at;
                    break;
                }
                Some(first) => {
                    let eol = self.line_end(at);
                    let trailing_blank = matches!(first, b' ' | b'\t');
                    if folded && leading_break && !leading_blank && !trailing_blank {
                        if trailing_breaks == 0 {
                            text.push(' ');
                        }
                    } else if leading_break {
                        text.push('\n');
                    }
                    push_breaks(&mut text, trailing_breaks);
                    trailing_breaks = 0;
                    leading_blank = trailing_blank;
                    text.push_str(&self.text[at..eol]);
                    // The end of the input counts as a line break (as granit reads it).
                    leading_break = true;
                    if eol >= self.bytes.len() {
                        self.pos = eol;
                        end = eol;
                        break;
                    }
                    self.new_line(eol + 1);
                }
            }
        }
        if !leading_break {
            // No content line: an empty scalar, rare, whose span granit places elsewhere.
            return None;
        }
        if chomp != Some(b'-') {
            text.push('\n');
        }
        if chomp == Some(b'+') {
            push_breaks(&mut text, trailing_breaks);
        }
        // The line that ended the scalar is read again for its token (maybe a comment).
        self.new_line(self.pos);
        self.skip_to_token()?;
        let scalar = Scalar {
            text,
            kind: ScalarKind::Str,
            kdl_argument: false,
        };
        Some(Node::new(
            Value::Scalar(scalar),
            self.span(header, end),
            Syntax::Yaml,
        ))
    }

    /// Whether a block scalar's content (at `pos`) starts with `|` or `>`: granit's span then
    /// starts there, and `block_scalar_start` takes it for the header, which the fast path
    /// does not imitate.
    fn content_starts_like_header(&self) -> bool {
        self.bytes[self.pos..]
            .iter()
            .find(|&&b| !matches!(b, b' ' | b'\n'))
            .is_some_and(|&b| matches!(b, b'|' | b'>'))
    }

    /// The indentation of a block scalar without an indentation indicator: that of its first
    /// non-empty line, which must be deeper than `parent`. Declines on an empty scalar and
    /// on leading empty lines indented deeper than the first line (an error).
    fn detect_indent(&self, parent: usize) -> Option<usize> {
        let mut line = self.pos;
        let mut deepest_empty = 0;
        loop {
            let mut at = line;
            while self.byte(at) == Some(b' ') {
                at += 1;
            }
            match self.byte(at)? {
                b'\n' => {
                    deepest_empty = deepest_empty.max(at - line);
                    line = at + 1;
                }
                b'\t' => return None,
                _ => {
                    let indent = at - line;
                    return (indent > parent && deepest_empty <= indent).then_some(indent);
                }
            }
        }
    }
}

fn push_breaks(text: &mut String, count: usize) {
    for _ in 0..count {
        text.push('\n');
    }
}

/// A mapping key's text, from the key as written and where its `:` is; `None` (decline) for
/// a merge key `<<`, a plain null key, or a key whose source up to the `:` is over
/// [`MAX_KEY_LEN`]: granit stops taking an implicit key once more than that lies between its
/// start and the `:` (spaces before the `:` and escapes included), so the length counted is
/// the source's, in bytes (at least its characters: declining errs on the safe side).
fn key_text(written: Written, colon: usize) -> Option<String> {
    let start = written.span.start as usize;
    let text = written.text;
    if colon.saturating_sub(start) > MAX_KEY_LEN
        || text.len() > MAX_KEY_LEN
        || written.plain && (text == "<<" || resolve_plain(&text).is_none())
    {
        return None;
    }
    Some(text)
}

/// The node of a one-line scalar: quoted scalars are strings, plain ones are resolved.
fn scalar_node(written: Written) -> Node {
    let kind = if written.plain {
        resolve_plain(&written.text)
    } else {
        Some(ScalarKind::Str)
    };
    let value = match kind {
        None => Value::Null,
        Some(kind) => Value::Scalar(Scalar {
            text: written.text,
            kind,
            kdl_argument: false,
        }),
    };
    Node::new(value, written.span, Syntax::Yaml)
}
