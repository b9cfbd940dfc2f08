//! Which text encoding a delivered file uses. Departments' systems still export
//! GB18030 (GBK); a file that is not valid UTF-8 at its start is taken as that.

use std::io::{Chain, Cursor, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Gb18030,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Gb18030 => "GB18030",
        }
    }
}

/// How much of the file is looked at to decide.
const SNIFF_BYTES: usize = 64 * 1024;

/// Read the start of `reader`, decide its encoding, and hand back a reader that
/// yields UTF-8 from the very first byte (without a byte-order mark).
pub fn detect_encoding<R: Read + Send + 'static>(
    mut reader: R,
) -> std::io::Result<(TextEncoding, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    let encoding = match std::str::from_utf8(&head) {
        Ok(_) => TextEncoding::Utf8,
        // A multi-byte character cut by the sniff window is still UTF-8.
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) => TextEncoding::Gb18030,
    };
    let start = if encoding == TextEncoding::Utf8 && head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let whole: Chain<Cursor<Vec<u8>>, R> = Cursor::new(head.split_off(start)).chain(reader);
    let decoded: Box<dyn Read + Send> = match encoding {
        TextEncoding::Utf8 => Box::new(whole),
        TextEncoding::Gb18030 => Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding_rs::GB18030))
                .build(whole),
        ),
    };
    Ok((encoding, decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_is_detected_and_decoded() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("姓名,年龄\n张三,30\n");
        let (enc, mut r) = detect_encoding(Cursor::new(bytes.into_owned())).unwrap();
        assert_eq!(enc, TextEncoding::Gb18030);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "姓名,年龄\n张三,30\n");
    }

    #[test]
    fn utf8_with_bom_loses_the_bom() {
        let (enc, mut r) = detect_encoding(Cursor::new(b"\xEF\xBB\xBFa,b\n".to_vec())).unwrap();
        assert_eq!(enc, TextEncoding::Utf8);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "a,b\n");
    }
}
