//! Positions and names as LSP spells them: UTF-16 line/character positions (the compiler
//! speaks byte offsets) and `file://` URIs (the compiler speaks paths).

use lsp_types::{Position, Range, Uri};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tkc_compiler::source::SourceFile;

/// The LSP position of byte `offset` in `text` (clamped to the text, snapped back to a char
/// boundary): 0-based line, character counted in UTF-16 code units.
pub fn position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count();
    let character: usize = before[line_start..].chars().map(char::len_utf16).sum();
    Position::new(to_u32(line), to_u32(character))
}

/// The LSP range of bytes `start..end` of `text`.
pub fn range(text: &str, start: usize, end: usize) -> Range {
    Range::new(position(text, start), position(text, end.max(start)))
}

/// [`range`] through the file's line index: a binary search and the characters of the line,
/// instead of a scan from the start of the text for each position (a check of a 2,000-task
/// pipeline may publish thousands of findings, each with several ranges).
pub fn range_in(source: &SourceFile, start: usize, end: usize) -> Range {
    Range::new(
        position_in(source, start),
        position_in(source, end.max(start)),
    )
}

/// [`position`] through the file's line index.
pub fn position_in(source: &SourceFile, offset: usize) -> Position {
    let text = source.text();
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = source.line_col(to_u32(offset)).line;
    let line_start = source.line_start(line).min(offset);
    let character: usize = text[line_start..offset].chars().map(char::len_utf16).sum();
    Position::new(to_u32(line.saturating_sub(1)), to_u32(character))
}

/// The byte offset of an LSP position in `text`. A line past the end is the end of the text;
/// a character past the end of its line is the end of the line; a position inside a
/// surrogate pair is the start of its character.
pub fn offset(text: &str, position: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..position.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let mut units = 0usize;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units + c.len_utf16() > position.character as usize {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    line_end
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The `file://` URI of an absolute path (bytes outside the unreserved set percent-encoded).
pub fn path_to_uri(path: &Path) -> Option<Uri> {
    let mut uri = String::from("file://");
    for &b in path.to_string_lossy().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&uri).ok()
}

/// The path of a `file://` URI (`None` for other schemes).
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let s = uri.as_str();
    let rest = s.strip_prefix("file://")?;
    // `file://localhost/x` and `file:///x` name the same file.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = rest
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_surrogate_pairs() {
        // `ü` is 2 bytes and 1 UTF-16 unit; `🚀` is 4 bytes and 2 units.
        let text = "a: ü🚀 x\nb: y\n";
        let x = text.find('x').unwrap_or_default();
        assert_eq!(position(text, x), Position::new(0, 7));
        assert_eq!(offset(text, Position::new(0, 7)), x);
        let y = text.find('y').unwrap_or_default();
        assert_eq!(position(text, y), Position::new(1, 3));
        assert_eq!(offset(text, Position::new(1, 3)), y);
        // Inside the surrogate pair: the start of the emoji.
        let rocket = text.find('🚀').unwrap_or_default();
        assert_eq!(offset(text, Position::new(0, 5)), rocket);
        assert_eq!(offset(text, Position::new(9, 0)), text.len());
        let mut sources = tkc_compiler::source::SourceMap::new();
        let id = sources.add("a.yaml", text);
        for at in 0..=text.len() + 1 {
            assert_eq!(position_in(sources.get(id), at), position(text, at), "{at}");
        }
        assert_eq!(
            offset(text, Position::new(0, 99)),
            text.find('\n').unwrap_or_default()
        );
    }

    #[test]
    fn uris_round_trip() {
        let path = Path::new("/tmp/a dir/pipe%line-ü.yaml");
        let uri = path_to_uri(path);
        assert_eq!(
            uri.as_ref()
                .map(|u| u.as_str().to_string())
                .unwrap_or_default(),
            "file:///tmp/a%20dir/pipe%25line-%C3%BC.yaml"
        );
        assert_eq!(uri.and_then(|u| uri_to_path(&u)).as_deref(), Some(path));
    }
}
