//! A reader for the Blueprint (Android.bp) subset our files use: modules of string, bool,
//! integer, list and map properties, with `//` and `/* */` comments. Anything else (variable
//! assignments, `+`, selects) is refused with its position, never skipped.

use std::collections::BTreeMap;

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

/// One `type { ... }` module.
#[derive(Debug, Clone)]
pub struct Module {
    pub kind: String,
    pub props: BTreeMap<String, Value>,
}

impl Module {
    /// The `name` property ("" when absent, as for `package {}`).
    pub fn name(&self) -> &str {
        self.str("name").unwrap_or("")
    }

    /// A string property.
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.props.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A list-of-strings property (empty when absent); `Err` when it holds anything else.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        strings_of(self.props.get(key), key)
    }
}

/// The strings of a list value (empty when absent).
pub fn strings_of(value: Option<&Value>, key: &str) -> Result<Vec<String>, String> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .iter()
            .map(|v| match v {
                Value::Str(s) => Ok(s.clone()),
                other => Err(format!("{key}: expected strings, found {other:?}")),
            })
            .collect(),
        Some(other) => Err(format!("{key}: expected a list, found {other:?}")),
    }
}

/// Parses a whole file.
pub fn parse(text: &str) -> Result<Vec<Module>, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut modules = Vec::new();
    loop {
        p.skip_space()?;
        if p.i == p.s.len() {
            return Ok(modules);
        }
        let kind = p.ident()?;
        p.skip_space()?;
        if p.peek() != Some(b'{') {
            return Err(p.error(&format!(
                "expected '{{' after {kind} (assignments are not supported)"
            )));
        }
        let Value::Map(props) = p.map()? else {
            unreachable!("map() returns a map")
        };
        modules.push(Module { kind, props });
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn error(&self, what: &str) -> String {
        let line = self.s[..self.i.min(self.s.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            + 1;
        format!("line {line}: {what}")
    }

    fn skip_space(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => self.i += 1,
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'*') => {
                    let rest = &self.s[self.i + 2..];
                    let end = rest
                        .windows(2)
                        .position(|w| w == b"*/")
                        .ok_or_else(|| self.error("unterminated comment"))?;
                    self.i += 2 + end + 2;
                }
                _ => return Ok(()),
            }
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.error("expected an identifier"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_space()?;
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", c as char)))
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space()?;
        let v = match self.peek() {
            Some(b'"') => self.string()?,
            Some(b'[') => self.list()?,
            Some(b'{') => self.map()?,
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                Value::Int(text.parse().map_err(|_| self.error("bad integer"))?)
            }
            _ => match self.ident()?.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => return Err(self.error(&format!("variables are not supported: {other}"))),
            },
        };
        self.skip_space()?;
        if self.peek() == Some(b'+') {
            return Err(self.error("'+' is not supported"));
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<Value, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = self
                        .s
                        .get(self.i + 1)
                        .copied()
                        .ok_or_else(|| self.error("bad escape"))?;
                    out.push(match c {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'"' | b'\\' => c,
                        _ => return Err(self.error("unsupported escape")),
                    });
                    self.i += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out)
            .map(Value::Str)
            .map_err(|_| self.error("string is not UTF-8"))
    }

    fn list(&mut self) -> Result<Value, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space()?;
            if self.peek() == Some(b']') {
                self.i += 1;
                return Ok(Value::List(items));
            }
            items.push(self.value()?);
            self.skip_space()?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {}
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn map(&mut self) -> Result<Value, String> {
        self.i += 1;
        let mut props = BTreeMap::new();
        loop {
            self.skip_space()?;
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Value::Map(props));
            }
            let key = self.ident()?;
            self.expect(b':')?;
            let value = self.value()?;
            if props.insert(key.clone(), value).is_some() {
                return Err(self.error(&format!("property {key} given twice")));
            }
            self.skip_space()?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }
}
