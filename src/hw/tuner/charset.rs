//! The RDS basic character set (EN 50067 Annex E, code table G0, kept by IEC 62106), in
//! which PS and RadioText are broadcast, to and from Unicode.
//!
//! 0x20..=0x7D follow ASCII except four positions (0x24 currency sign, 0x5E horizontal bar,
//! 0x60 double vertical line, 0x7E overline); 0x80..=0xFE hold accented Latin letters and
//! symbols. Three glyphs are rendered differently by public decoders; this table follows the
//! languages the row serves: 0x8D is German sharp s, 0xA4 and 0x9D are the Turkish G with
//! breve. Control codes (0x00..=0x1F, 0x7F) and 0xFF have no glyph.

/// Glyphs of 0x80..=0xFE, in code order.
const HIGH: [char; 127] = [
    'á', 'à', 'é', 'è', 'í', 'ì', 'ó', 'ò', 'ú', 'ù', 'Ñ', 'Ç', 'Ş', 'ß', '¡', 'Ĳ', // 0x80
    'â', 'ä', 'ê', 'ë', 'î', 'ï', 'ô', 'ö', 'û', 'ü', 'ñ', 'ç', 'ş', 'ğ', 'ı', 'ĳ', // 0x90
    'ª', 'α', '©', '‰', 'Ğ', 'ě', 'ň', 'ő', 'π', '€', '£', '$', '←', '↑', '→', '↓', // 0xA0
    'º', '¹', '²', '³', '±', 'İ', 'ń', 'ű', 'µ', '¿', '÷', '°', '¼', '½', '¾', '§', // 0xB0
    'Á', 'À', 'É', 'È', 'Í', 'Ì', 'Ó', 'Ò', 'Ú', 'Ù', 'Ř', 'Č', 'Š', 'Ž', 'Ð', 'Ŀ', // 0xC0
    'Â', 'Ä', 'Ê', 'Ë', 'Î', 'Ï', 'Ô', 'Ö', 'Û', 'Ü', 'ř', 'č', 'š', 'ž', 'đ', 'ŀ', // 0xD0
    'Ã', 'Å', 'Æ', 'Œ', 'ŷ', 'Ý', 'Õ', 'Ø', 'Þ', 'Ŋ', 'Ŕ', 'Ć', 'Ś', 'Ź', 'Ŧ', 'ð', // 0xE0
    'ã', 'å', 'æ', 'œ', 'ŵ', 'ý', 'õ', 'ø', 'þ', 'ŋ', 'ŕ', 'ć', 'ś', 'ź', 'ŧ', // 0xF0
];

/// ASCII positions whose RDS glyph differs from ASCII.
const ASCII_EXCEPTIONS: [(u8, char); 4] = [(0x24, '¤'), (0x5E, '―'), (0x60, '‖'), (0x7E, '¯')];

/// The glyph of one RDS character, or `None` for control codes and unassigned positions.
pub fn decode_char(b: u8) -> Option<char> {
    match b {
        0x20..=0x7E => Some(
            ASCII_EXCEPTIONS
                .iter()
                .find(|(code, _)| *code == b)
                .map_or(char::from(b), |(_, c)| *c),
        ),
        0x80..=0xFE => HIGH.get(usize::from(b - 0x80)).copied(),
        _ => None,
    }
}

/// Text of RDS characters for display; characters without a glyph are left out.
pub fn decode(bytes: &[u8]) -> String {
    bytes.iter().filter_map(|&b| decode_char(b)).collect()
}

/// The RDS character showing `c`, if the set has one.
pub fn encode_char(c: char) -> Option<u8> {
    if let Some((code, _)) = ASCII_EXCEPTIONS.iter().find(|(_, g)| *g == c) {
        return Some(*code);
    }
    match u8::try_from(c) {
        Ok(b @ 0x20..=0x7E) if !ASCII_EXCEPTIONS.iter().any(|(code, _)| *code == b) => Some(b),
        _ => HIGH
            .iter()
            .position(|&g| g == c)
            .and_then(|i| u8::try_from(i + 0x80).ok()),
    }
}

/// A character the RDS set cannot show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("character {0:?} has no RDS code")]
pub struct Unencodable(pub char);

/// `s` in RDS characters (for the encoder of the simulated tuner).
pub fn encode(s: &str) -> Result<Vec<u8>, Unencodable> {
    s.chars()
        .map(|c| encode_char(c).ok_or(Unencodable(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_positions() {
        assert_eq!(decode_char(b'A'), Some('A'));
        assert_eq!(decode_char(0x24), Some('¤'));
        assert_eq!(decode_char(0x60), Some('‖'));
        assert_eq!(decode_char(0x8D), Some('ß'));
        assert_eq!(decode_char(0x91), Some('ä'));
        assert_eq!(decode_char(0xA9), Some('€'));
        assert_eq!(decode_char(0xAB), Some('$'));
        assert_eq!(decode_char(0xD7), Some('Ö'));
        assert_eq!(decode_char(0xFE), Some('ŧ'));
        for b in [0x00, 0x0D, 0x1F, 0x7F, 0xFF] {
            assert_eq!(decode_char(b), None, "{b:#x}");
        }
        assert_eq!(decode(b"Caf\x82 \x24\x0D"), "Café ¤");
    }

    #[test]
    fn every_glyph_round_trips() {
        let mut glyphs = std::collections::HashSet::new();
        for b in 0u8..=255 {
            if let Some(c) = decode_char(b) {
                assert!(glyphs.insert(c), "{c:?} appears twice");
                assert_eq!(encode_char(c), Some(b), "{c:?}");
            }
        }
        assert_eq!(glyphs.len(), 95 + 127);
    }

    #[test]
    fn encode_reports_the_first_unencodable_character() {
        assert_eq!(encode("Müller $5").unwrap(), b"M\x99ller \xAB5");
        assert_eq!(encode("a^b"), Err(Unencodable('^')));
        assert_eq!(encode("日本"), Err(Unencodable('日')));
    }
}
