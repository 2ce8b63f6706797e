//! Hidden Unicode: bidi controls, zero-width and tag characters.

use super::*;

// ---- hidden Unicode ---------------------------------------------------------

/// The name of a character the `hidden_unicode` rule flags (U+FEFF is
/// flagged everywhere here; its place at the start of a file is allowed by
/// the caller).
pub(super) fn hidden_char(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{202A}' => "left-to-right embedding",
        '\u{202B}' => "right-to-left embedding",
        '\u{202C}' => "pop directional formatting",
        '\u{202D}' => "left-to-right override",
        '\u{202E}' => "right-to-left override",
        '\u{2066}' => "left-to-right isolate",
        '\u{2067}' => "right-to-left isolate",
        '\u{2068}' => "first strong isolate",
        '\u{2069}' => "pop directional isolate",
        '\u{200B}' => "zero width space",
        '\u{200C}' => "zero width non-joiner",
        '\u{200D}' => "zero width joiner",
        '\u{FEFF}' => "zero width no-break space",
        '\u{E0000}'..='\u{E007F}' => "tag character",
        _ => return None,
    })
}

pub(super) fn describe_char(c: char) -> String {
    format!(
        "U+{:04X} ({})",
        c as u32,
        hidden_char(c).unwrap_or("character")
    )
}

/// Emoji and pictographs, where U+200D joins characters visibly.
pub(super) fn is_emoji(c: char) -> bool {
    matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{FE0F}' | '\u{2B00}'..='\u{2BFF}')
}

/// What hidden characters a text holds, as `U+202E (right-to-left override)
/// ×2, first at line 3, …`; `None` when it holds none. A leading U+FEFF
/// (byte order mark), U+200D between emoji and tag characters in an emoji
/// flag sequence (after U+1F3F4) are ordinary and not flagged.
pub(super) fn hidden_unicode_in(content: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(content);
    // code point → (count, first line)
    let mut found: BTreeMap<char, (usize, usize)> = BTreeMap::new();
    let mut line = 1;
    let mut prev: Option<char> = None;
    let mut in_flag = false;
    for (i, c) in text.chars().enumerate() {
        if c == '\n' {
            line += 1;
        }
        let ordinary = match c {
            '\u{FEFF}' => i == 0,
            '\u{200D}' => prev.is_some_and(is_emoji),
            '\u{E0020}'..='\u{E007F}' => in_flag,
            _ => false,
        };
        if c == '\u{1F3F4}' {
            in_flag = true;
        } else if !('\u{E0020}'..='\u{E007E}').contains(&c) {
            in_flag = false;
        }
        prev = Some(c);
        if ordinary || hidden_char(c).is_none() {
            continue;
        }
        let slot = found.entry(c).or_insert((0, line));
        slot.0 += 1;
    }
    if found.is_empty() {
        return None;
    }
    let parts: Vec<String> = found
        .iter()
        .map(|(c, (count, first))| {
            let times = if *count > 1 {
                format!(" ×{count}")
            } else {
                String::new()
            };
            format!("{}{times} first at line {first}", describe_char(*c))
        })
        .collect();
    Some(format!("hidden Unicode: {}", parts.join(", ")))
}
