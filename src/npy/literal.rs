//! A linear-time, depth-bounded parser for the Python literals found in `.npy` headers.
//!
//! NumPy reads the header with `ast.literal_eval`. This parser accepts the same syntax for the
//! values a header can hold (strings with prefixes, escapes and implicit concatenation, integers in
//! every base with underscores and one sign, `True`/`False`/`None`, tuples, lists, dicts, sets,
//! comments and line continuations) and evaluates them into [`Value`]. It never backtracks: each
//! byte is looked at a bounded number of times, so run time is linear in the header length, and
//! bracket nesting is capped at [`MAX_DEPTH`], the limit of Python's own tokenizer.
//!
//! Floats and complex numbers are recognised but not evaluated: no valid header holds one.

/// Deepest bracket nesting accepted: Python's tokenizer refuses a 201st level (`MAXLEVEL` 200),
/// so NumPy reads a header whose dict holds 199 nested parentheses and refuses 200.
pub const MAX_DEPTH: usize = 200;

/// A Python literal, evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `str`.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `int`; `None` when it does not fit in an `i128`.
    Int(Option<i128>),
    /// `True` or `False`.
    Bool(bool),
    /// `None`.
    NoneValue,
    /// A `float` or `complex` (not evaluated).
    Number,
    /// `tuple`.
    Tuple(Vec<Value>),
    /// `list`.
    List(Vec<Value>),
    /// `set`.
    Set(Vec<Value>),
    /// `dict`, entries in source order (later duplicates win when looked up from the end).
    Dict(Vec<(Value, Value)>),
}

impl Value {
    /// The Python type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Int(_) => "int",
            Value::Bool(_) => "bool",
            Value::NoneValue => "None",
            Value::Number => "float or complex",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Dict(_) => "dict",
        }
    }

    /// A short Python-like rendering for messages (strings quoted, containers summarised).
    pub fn repr(&self) -> String {
        match self {
            Value::Str(s) => format!("{s:?}"),
            Value::Int(Some(i)) => i.to_string(),
            Value::Int(None) => "<huge int>".to_string(),
            Value::Bool(true) => "True".to_string(),
            Value::Bool(false) => "False".to_string(),
            Value::NoneValue => "None".to_string(),
            Value::Tuple(items) if items.len() <= 8 => {
                let parts: Vec<String> = items.iter().map(Value::repr).collect();
                if parts.len() == 1 {
                    format!("({},)", parts[0])
                } else {
                    format!("({})", parts.join(", "))
                }
            }
            other => format!("<{}>", other.type_name()),
        }
    }
}

/// Why the text is not a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralError {
    /// Invalid syntax at a byte offset.
    Syntax {
        /// Byte offset in the text.
        offset: usize,
        /// What went wrong.
        reason: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// How the header's bytes map to characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Format 1.0 and 2.0: every byte is one character.
    Latin1,
    /// Format 3.0 (the caller has validated the text).
    Utf8,
}

/// Parses `text` as one Python literal expression followed only by whitespace and comments.
///
/// `drop_long_suffix` enables NumPy's Python 2 compatibility filter (formats 1.0 and 2.0): an
/// identifier `L` right after a number token is ignored, so `3L` reads as `3`.
pub fn parse(
    text: &[u8],
    encoding: Encoding,
    drop_long_suffix: bool,
) -> Result<Value, LiteralError> {
    let mut p = Parser {
        s: text,
        pos: 0,
        depth: 0,
        encoding,
        drop_long_suffix,
    };
    p.skip_space();
    let value = p.expression()?;
    p.skip_space();
    if p.pos != p.s.len() {
        return Err(p.error("unexpected text after the literal"));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
    encoding: Encoding,
    drop_long_suffix: bool,
}

impl Parser<'_> {
    fn error(&self, reason: impl Into<String>) -> LiteralError {
        LiteralError::Syntax {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.pos + ahead).copied()
    }

    /// Skips blanks, newlines, comments and backslash continuations.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' || c == b'\r' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'\\' if matches!(self.peek_at(1), Some(b'\n' | b'\r')) => {
                    self.pos += 2;
                    if self.s[self.pos - 1] == b'\r' && self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn enter(&mut self) -> Result<(), LiteralError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(LiteralError::TooDeep);
        }
        Ok(())
    }

    /// One expression: an atom with at most one unary sign on a number.
    fn expression(&mut self) -> Result<Value, LiteralError> {
        let Some(c) = self.peek() else {
            return Err(self.error("expected a value, found the end of the header"));
        };
        match c {
            b'+' | b'-' => {
                let negative = c == b'-';
                self.pos += 1;
                self.skip_space();
                match self.peek() {
                    Some(b'0'..=b'9' | b'.') => match self.number()? {
                        Value::Int(Some(i)) if negative => Ok(Value::Int(i.checked_neg())),
                        v => Ok(v),
                    },
                    _ => Err(self.error("a sign must be followed by a number")),
                }
            }
            b'0'..=b'9' => self.number(),
            b'.' if matches!(self.peek_at(1), Some(b'0'..=b'9')) => self.number(),
            b'\'' | b'"' => self.strings(),
            b'(' | b'[' | b'{' => self.container(c),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.pos;
                self.identifier();
                let text = self.s;
                let word = &text[start..self.pos];
                if matches!(self.peek(), Some(b'\'' | b'"')) && is_string_prefix(word) {
                    self.pos = start;
                    return self.strings();
                }
                match word {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    b"None" => Ok(Value::NoneValue),
                    _ => {
                        self.pos = start;
                        Err(self.error(format!(
                            "name '{}' is not a literal",
                            String::from_utf8_lossy(word)
                        )))
                    }
                }
            }
            _ => Err(self.error(format!("unexpected character {:?}", c as char))),
        }
    }

    fn identifier(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
    }

    /// A number token: int (any base, underscores), float or imaginary.
    fn number(&mut self) -> Result<Value, LiteralError> {
        let start = self.pos;
        let value = if self.peek() == Some(b'0')
            && matches!(
                self.peek_at(1),
                Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
            ) {
            let radix = match self.s[self.pos + 1] {
                b'x' | b'X' => 16,
                b'o' | b'O' => 8,
                _ => 2,
            };
            self.pos += 2;
            // Python allows one underscore right after the base prefix.
            let digits = self.digits(radix, true)?;
            if digits.is_empty() {
                return Err(self.error("number has a base prefix but no digits"));
            }
            Value::Int(int_value(&digits, radix))
        } else {
            let int_part = self.digits(10, false)?;
            let mut is_float = false;
            if self.peek() == Some(b'.') {
                is_float = true;
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.digits(10, false)?;
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                let save = self.pos;
                self.pos += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                if !matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos = save;
                    return Err(self.error("invalid exponent in a number"));
                }
                self.digits(10, false)?;
                is_float = true;
            }
            if matches!(self.peek(), Some(b'j' | b'J')) {
                self.pos += 1;
                is_float = true;
            }
            if is_float {
                Value::Number
            } else {
                // Leading zeros are only allowed in zero itself ("00" is fine, "012" is not).
                if int_part.len() > 1 && int_part[0] == b'0' && int_part.iter().any(|&d| d != b'0')
                {
                    self.pos = start;
                    return Err(self.error("leading zeros in a decimal integer are not permitted"));
                }
                Value::Int(int_value(&int_part, 10))
            }
        };
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            if self.drop_long_suffix && self.peek() == Some(b'L') && !self.continues_identifier(1) {
                self.pos += 1;
                return Ok(value);
            }
            return Err(self.error("invalid character in a number"));
        }
        if self.drop_long_suffix {
            // NumPy's Python 2 filter works on tokens: `3 L` also loses its `L`.
            let save = self.pos;
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\x0c')) {
                self.pos += 1;
            }
            if self.peek() == Some(b'L') && !self.continues_identifier(1) {
                self.pos += 1;
            } else {
                self.pos = save;
            }
        }
        Ok(value)
    }

    fn continues_identifier(&self, ahead: usize) -> bool {
        matches!(self.peek_at(ahead), Some(c) if c.is_ascii_alphanumeric() || c == b'_')
    }

    /// Digits of `radix`, single underscores allowed between digits (and after a base prefix
    /// when `leading_underscore`). Returns the digits without underscores.
    fn digits(&mut self, radix: u32, leading_underscore: bool) -> Result<Vec<u8>, LiteralError> {
        let mut out = Vec::new();
        let mut last_underscore = false;
        if leading_underscore && self.peek() == Some(b'_') {
            self.pos += 1;
            last_underscore = true;
        }
        while let Some(c) = self.peek() {
            if c == b'_' {
                if last_underscore || (out.is_empty() && !leading_underscore) {
                    return Err(self.error("invalid underscore in a number"));
                }
                last_underscore = true;
            } else if (c as char).is_digit(radix) {
                out.push(c);
                last_underscore = false;
            } else if c.is_ascii_digit() {
                return Err(self.error(format!(
                    "invalid digit '{}' in a base-{radix} number",
                    c as char
                )));
            } else {
                break;
            }
            self.pos += 1;
        }
        if last_underscore {
            return Err(self.error("a number cannot end in an underscore"));
        }
        Ok(out)
    }

    /// One or more adjacent string literals, concatenated (all `str` or all `bytes`).
    fn strings(&mut self) -> Result<Value, LiteralError> {
        let start = self.pos;
        let (first_bytes, mut acc) = self.string_literal()?;
        loop {
            let save = self.pos;
            self.skip_space();
            let at_prefix = {
                let mut k = 0;
                while k < 2 && matches!(self.peek_at(k), Some(c) if c.is_ascii_alphabetic()) {
                    k += 1;
                }
                matches!(self.peek_at(k), Some(b'\'' | b'"'))
                    && is_string_prefix(&self.s[self.pos..self.pos + k])
            };
            if !at_prefix {
                self.pos = save;
                break;
            }
            let (is_bytes, more) = self.string_literal()?;
            if is_bytes != first_bytes {
                self.pos = start;
                return Err(self.error("cannot mix bytes and str literals"));
            }
            acc.extend_from_slice(&more);
        }
        if first_bytes {
            Ok(Value::Bytes(acc))
        } else {
            // `acc` holds UTF-8 produced by `string_literal`.
            String::from_utf8(acc)
                .map(Value::Str)
                .map_err(|_| self.error("string is not valid text"))
        }
    }

    /// One string literal with optional prefix. Returns (is_bytes, UTF-8 text or raw bytes).
    fn string_literal(&mut self) -> Result<(bool, Vec<u8>), LiteralError> {
        let mut raw = false;
        let mut bytes = false;
        while let Some(c) = self.peek() {
            match c {
                b'r' | b'R' => raw = true,
                b'b' | b'B' => bytes = true,
                b'u' | b'U' => {}
                b'f' | b'F' => return Err(self.error("f-strings are not literals")),
                _ => break,
            }
            self.pos += 1;
        }
        let quote = self.peek().ok_or_else(|| self.error("expected a string"))?;
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string literal"));
            };
            if c == quote {
                if !triple {
                    self.pos += 1;
                    break;
                }
                if self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote) {
                    self.pos += 3;
                    break;
                }
            }
            if (c == b'\n' || c == b'\r') && !triple {
                return Err(self.error("unterminated string literal (end of line)"));
            }
            if c == b'\\' {
                if raw {
                    // A backslash keeps the next character, which cannot end the string.
                    out.push(b'\\');
                    self.pos += 1;
                    let next = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string literal"))?;
                    if next == quote || next == b'\\' {
                        out.push(next);
                        self.pos += 1;
                    }
                    continue;
                }
                self.escape(bytes, &mut out)?;
                continue;
            }
            if bytes && c >= 0x80 {
                return Err(self.error("bytes can only contain ASCII literal characters"));
            }
            self.push_char(&mut out, bytes);
        }
        Ok((bytes, out))
    }

    /// Appends the character at `pos` (one byte in latin1, one UTF-8 sequence in UTF-8).
    fn push_char(&mut self, out: &mut Vec<u8>, bytes: bool) {
        let c = self.s[self.pos];
        if bytes || c < 0x80 {
            out.push(c);
            self.pos += 1;
            return;
        }
        match self.encoding {
            Encoding::Latin1 => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(char::from(c).encode_utf8(&mut buf).as_bytes());
                self.pos += 1;
            }
            Encoding::Utf8 => {
                let len = match c {
                    0xC0..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    _ => 4,
                };
                let end = (self.pos + len).min(self.s.len());
                out.extend_from_slice(&self.s[self.pos..end]);
                self.pos = end;
            }
        }
    }

    fn escape(&mut self, bytes: bool, out: &mut Vec<u8>) -> Result<(), LiteralError> {
        self.pos += 1; // the backslash
        let Some(c) = self.peek() else {
            return Err(self.error("unterminated string literal"));
        };
        self.pos += 1;
        let simple = match c {
            b'\n' => Some(None),
            b'\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
                Some(None)
            }
            b'\\' => Some(Some(b'\\')),
            b'\'' => Some(Some(b'\'')),
            b'"' => Some(Some(b'"')),
            b'a' => Some(Some(0x07)),
            b'b' => Some(Some(0x08)),
            b'f' => Some(Some(0x0c)),
            b'n' => Some(Some(b'\n')),
            b'r' => Some(Some(b'\r')),
            b't' => Some(Some(b'\t')),
            b'v' => Some(Some(0x0b)),
            _ => None,
        };
        if let Some(byte) = simple {
            out.extend(byte);
            return Ok(());
        }
        let code: u32 = match c {
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                v
            }
            b'x' => self.hex_escape(2)?,
            b'u' if !bytes => self.hex_escape(4)?,
            b'U' if !bytes => self.hex_escape(8)?,
            b'N' if !bytes => {
                return Err(self.error("named unicode escapes (\\N{...}) are not supported"));
            }
            _ => {
                // Unknown escapes keep the backslash (Python warns but accepts).
                out.push(b'\\');
                self.pos -= 1;
                self.push_char(out, bytes);
                return Ok(());
            }
        };
        if bytes {
            let b = u8::try_from(code)
                .map_err(|_| self.error("octal escape value out of range for bytes"))?;
            out.push(b);
        } else {
            let ch = char::from_u32(code)
                .ok_or_else(|| self.error("escape is not a valid code point"))?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }

    fn hex_escape(&mut self, n: usize) -> Result<u32, LiteralError> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = self
                .peek()
                .and_then(|c| (c as char).to_digit(16))
                .ok_or_else(|| {
                    self.error(format!("truncated \\x/\\u escape: expected {n} hex digits"))
                })?;
            v = v.wrapping_mul(16).wrapping_add(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// `(...)`, `[...]` or `{...}`.
    fn container(&mut self, open: u8) -> Result<Value, LiteralError> {
        self.enter()?;
        self.pos += 1;
        let close = match open {
            b'(' => b')',
            b'[' => b']',
            _ => b'}',
        };
        let mut items = Vec::new();
        let mut pairs = Vec::new();
        let mut is_dict = false;
        let mut trailing_comma = false;
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            if (!items.is_empty() || !pairs.is_empty()) && !trailing_comma {
                return Err(self.error(format!("expected ',' or '{}'", close as char)));
            }
            let item = self.expression()?;
            self.skip_space();
            if open == b'{' && self.peek() == Some(b':') {
                if !items.is_empty() {
                    return Err(self.error("':' in a set"));
                }
                is_dict = true;
                self.pos += 1;
                self.skip_space();
                let value = self.expression()?;
                pairs.push((item, value));
                self.skip_space();
            } else if is_dict {
                return Err(self.error("expected ':' in a dict"));
            } else {
                items.push(item);
            }
            trailing_comma = self.peek() == Some(b',');
            if trailing_comma {
                self.pos += 1;
            } else if self.peek() != Some(close) {
                return Err(match self.peek() {
                    None => self.error(format!("'{}' was never closed", open as char)),
                    Some(_) => self.error(format!("expected ',' or '{}'", close as char)),
                });
            }
        }
        self.depth -= 1;
        Ok(match open {
            b'(' if items.len() == 1 && !trailing_comma => items.pop().expect("one item"),
            b'(' => Value::Tuple(items),
            b'[' => Value::List(items),
            _ if is_dict || items.is_empty() => Value::Dict(pairs),
            _ => Value::Set(items),
        })
    }
}

fn is_string_prefix(word: &[u8]) -> bool {
    let lower: Vec<u8> = word.iter().map(u8::to_ascii_lowercase).collect();
    matches!(
        lower.as_slice(),
        b"" | b"r" | b"u" | b"b" | b"br" | b"rb" | b"f" | b"fr" | b"rf"
    )
}

/// Value of ASCII digits in `radix`; `None` past `i128`.
fn int_value(digits: &[u8], radix: u32) -> Option<i128> {
    let mut v: i128 = 0;
    for &d in digits {
        let digit = (d as char).to_digit(radix)?;
        v = v
            .checked_mul(i128::from(radix))?
            .checked_add(i128::from(digit))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Value, LiteralError> {
        parse(s.as_bytes(), Encoding::Latin1, false)
    }

    #[test]
    fn header_dict() {
        let v = p("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n").unwrap();
        let Value::Dict(pairs) = v else {
            panic!("not a dict")
        };
        assert_eq!(pairs.len(), 3);
        assert_eq!(
            pairs[2].1,
            Value::Tuple(vec![Value::Int(Some(3)), Value::Int(Some(4))])
        );
    }

    #[test]
    fn grouping_and_tuples() {
        assert_eq!(p("(3)").unwrap(), Value::Int(Some(3)));
        assert_eq!(p("(3,)").unwrap(), Value::Tuple(vec![Value::Int(Some(3))]));
        assert_eq!(p("()").unwrap(), Value::Tuple(vec![]));
        assert_eq!(
            p("((3,))").unwrap(),
            Value::Tuple(vec![Value::Int(Some(3))])
        );
        assert!(p("(,)").is_err());
        assert!(p("(3,,)").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(p("0x1_F").unwrap(), Value::Int(Some(31)));
        assert_eq!(p("0o17").unwrap(), Value::Int(Some(15)));
        assert_eq!(p("0b_101").unwrap(), Value::Int(Some(5)));
        assert_eq!(p("1_000").unwrap(), Value::Int(Some(1000)));
        assert_eq!(p("-7").unwrap(), Value::Int(Some(-7)));
        assert_eq!(p("+ 7").unwrap(), Value::Int(Some(7)));
        assert_eq!(p("000").unwrap(), Value::Int(Some(0)));
        assert!(p("012").is_err());
        assert!(p("1__0").is_err());
        assert!(p("1_").is_err());
        assert!(p("--1").is_err());
        assert!(p("3L").is_err());
        assert_eq!(
            parse(b"3L", Encoding::Latin1, true).unwrap(),
            Value::Int(Some(3))
        );
        assert_eq!(p("1.5").unwrap(), Value::Number);
        assert_eq!(p("2j").unwrap(), Value::Number);
        assert_eq!(
            p("99999999999999999999999999999999999999999").unwrap(),
            Value::Int(None)
        );
    }

    #[test]
    fn strings() {
        assert_eq!(p("'<' 'f8'").unwrap(), Value::Str("<f8".into()));
        assert_eq!(p("u'\\x3cf8'").unwrap(), Value::Str("<f8".into()));
        assert_eq!(p("'''<f8'''").unwrap(), Value::Str("<f8".into()));
        assert_eq!(p("r'\\d'").unwrap(), Value::Str("\\d".into()));
        assert_eq!(p("b'ab'").unwrap(), Value::Bytes(b"ab".to_vec()));
        assert!(p("'a' b'b'").is_err());
        assert!(p("f'x'").is_err());
        assert!(p("'abc").is_err());
        assert!(p("'a\nb'").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}3{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(p(&ok).unwrap(), Value::Int(Some(3)));
        let deep = format!(
            "{}3{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(p(&deep), Err(LiteralError::TooDeep));
    }

    #[test]
    fn comments_and_continuations() {
        let v = p("{'a': 1, # note\n 'b': \\\n 2}").unwrap();
        assert!(matches!(v, Value::Dict(ref d) if d.len() == 2));
        assert!(p("True False").is_err());
        assert!(p("truthy").is_err());
    }
}
