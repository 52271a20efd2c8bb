//! The public surface of the crate Soong's `aidl_interface` generates for the Rust backend
//! (`vendor.drivervm-V<N>-rust`, crate `vendor_drivervm`), written from a frozen AIDL version.
//!
//! Debian's `aidl` (Android 10) has no Rust backend and AOSP's cannot be built here, so this
//! emits only what callers and implementers of the generated code see: one module per type
//! holding the interface trait with `BnX::new_binder`, the parcelable struct, the union enum
//! (one variant per field, its name capitalized), or the int-backed enum newtype, plus
//! constants, `VERSION` and `HASH`. Type mapping follows system/tools/aidl
//! `aidl_to_rust.cpp` (`RustNameOf`, `ArgumentStorageMode`) for the subset our AIDL uses;
//! anything outside that subset is an error, never a guess. Bodies diverge: the crate is only
//! type-checked, against the libbinder_rs model in tests/android/libbinder-model.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One AIDL file's declaration.
#[derive(Debug)]
pub struct Decl {
    /// The package, e.g. `vendor.drivervm`.
    pub package: String,
    /// The type name.
    pub name: String,
    /// What it declares.
    pub body: Body,
}

/// What a file declares.
#[derive(Debug)]
pub enum Body {
    /// An enum: backing type and (name, value) pairs.
    Enum(String, Vec<(String, i64)>),
    /// A parcelable's fields.
    Parcelable(Vec<Field>),
    /// A union's fields, one of which is set.
    Union(Vec<Field>),
    /// An interface's int constants and methods.
    Interface {
        /// `const int NAME = value;`
        constants: Vec<(String, i64)>,
        /// Methods in declaration order.
        methods: Vec<Method>,
    },
}

/// An AIDL type as written: name, `[]`, `@nullable`.
#[derive(Debug, Clone)]
pub struct TypeRef {
    name: String,
    array: bool,
    nullable: bool,
}

/// A parcelable field.
#[derive(Debug)]
pub struct Field {
    ty: TypeRef,
    name: String,
}

/// An interface method.
#[derive(Debug)]
pub struct Method {
    /// The method name.
    pub name: String,
    ret: TypeRef,
    args: Vec<(TypeRef, String)>,
}

/// An annotation's name and its `key = "value"` arguments.
type Annotation = (String, Vec<(String, String)>);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Num(i64),
    Str(String),
    Punct(char),
}

fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |at| &r[at..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |at| &r[at + 2..]);
            out.push(' ');
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = strip_comments(src).chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse()
                .map_err(|e| format!("number {text}: {e} (only decimal integers are modelled)"))?;
            toks.push(Tok::Num(n));
        } else if c == '"' {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            toks.push(Tok::Str(chars[start..i].iter().collect()));
            i += 1;
        } else if "{}()[];,=@<>".contains(c) {
            toks.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Result<Tok, String> {
        let t = self
            .toks
            .get(self.at)
            .cloned()
            .ok_or("unexpected end of file")?;
        self.at += 1;
        Ok(t)
    }

    fn word(&mut self) -> Result<String, String> {
        match self.next()? {
            Tok::Word(w) => Ok(w),
            t => Err(format!("expected a name, found {t:?}")),
        }
    }

    fn punct(&mut self, c: char) -> Result<(), String> {
        match self.next()? {
            Tok::Punct(p) if p == c => Ok(()),
            t => Err(format!("expected {c:?}, found {t:?}")),
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        let hit = self.peek() == Some(t);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn num(&mut self) -> Result<i64, String> {
        match self.next()? {
            Tok::Num(n) => Ok(n),
            t => Err(format!(
                "expected an integer literal, found {t:?} (not modelled)"
            )),
        }
    }

    /// `@Name` or `@Name(key="value", ...)`; returns the name and its string arguments.
    fn annotations(&mut self) -> Result<Vec<Annotation>, String> {
        let mut list = Vec::new();
        while self.eat(&Tok::Punct('@')) {
            let name = self.word()?;
            let mut args = Vec::new();
            if self.eat(&Tok::Punct('(')) {
                while !self.eat(&Tok::Punct(')')) {
                    let key = self.word()?;
                    self.punct('=')?;
                    match self.next()? {
                        Tok::Str(v) => args.push((key, v)),
                        t => args.push((key, format!("{t:?}"))),
                    }
                    self.eat(&Tok::Punct(','));
                }
            }
            list.push((name, args));
        }
        Ok(list)
    }

    fn type_ref(&mut self) -> Result<TypeRef, String> {
        let nullable = self.annotations()?.iter().any(|(n, _)| n == "nullable");
        let name = self.word()?;
        if self.peek() == Some(&Tok::Punct('<')) {
            return Err(format!("generic type {name}<...> is not modelled"));
        }
        let array = self.eat(&Tok::Punct('['));
        if array {
            self.punct(']')?;
        }
        Ok(TypeRef {
            name,
            array,
            nullable,
        })
    }
}

/// Parses one AIDL file of the modelled subset.
pub fn parse(src: &str) -> Result<Decl, String> {
    let mut p = Parser {
        toks: tokenize(src)?,
        at: 0,
    };
    if p.word()? != "package" {
        return Err("a file must start with its package".into());
    }
    let package = p.word()?;
    p.punct(';')?;
    while p.eat(&Tok::Word("import".into())) {
        p.word()?;
        p.punct(';')?;
    }
    let annotations = p.annotations()?;
    p.eat(&Tok::Word("oneway".into()));
    let kind = p.word()?;
    let name = p.word()?;
    p.punct('{')?;
    let body = match kind.as_str() {
        "enum" => {
            let backing = annotations
                .iter()
                .find(|(n, _)| n == "Backing")
                .and_then(|(_, args)| args.iter().find(|(k, _)| k == "type"))
                .map_or("byte".to_owned(), |(_, v)| v.clone());
            let mut values = Vec::new();
            while !p.eat(&Tok::Punct('}')) {
                let n = p.word()?;
                p.punct('=')?;
                values.push((n, p.num()?));
                p.eat(&Tok::Punct(','));
            }
            Body::Enum(backing, values)
        }
        "parcelable" | "union" => {
            let mut fields = Vec::new();
            while !p.eat(&Tok::Punct('}')) {
                let ty = p.type_ref()?;
                let name = p.word()?;
                if p.eat(&Tok::Punct('=')) {
                    return Err(format!("field {name}: default values are not modelled"));
                }
                p.punct(';')?;
                fields.push(Field { ty, name });
            }
            if kind == "union" {
                if fields.is_empty() {
                    return Err(format!("union {name} has no fields"));
                }
                Body::Union(fields)
            } else {
                Body::Parcelable(fields)
            }
        }
        "interface" => {
            let mut constants = Vec::new();
            let mut methods = Vec::new();
            while !p.eat(&Tok::Punct('}')) {
                if p.eat(&Tok::Word("const".into())) {
                    let ty = p.word()?;
                    if ty != "int" {
                        return Err(format!("const {ty}: only int constants are modelled"));
                    }
                    let n = p.word()?;
                    p.punct('=')?;
                    constants.push((n, p.num()?));
                    p.punct(';')?;
                    continue;
                }
                p.annotations()?;
                p.eat(&Tok::Word("oneway".into()));
                let ret = p.type_ref()?;
                let mname = p.word()?;
                p.punct('(')?;
                let mut args = Vec::new();
                while !p.eat(&Tok::Punct(')')) {
                    let nullable = p.annotations()?.iter().any(|(n, _)| n == "nullable");
                    match p.peek() {
                        Some(Tok::Word(d)) if d == "out" || d == "inout" => {
                            return Err(format!("{mname}: {d} arguments are not modelled"))
                        }
                        Some(Tok::Word(d)) if d == "in" => p.at += 1,
                        _ => {}
                    }
                    let mut ty = p.type_ref()?;
                    ty.nullable |= nullable;
                    args.push((ty, p.word()?));
                    p.eat(&Tok::Punct(','));
                }
                p.punct(';')?;
                methods.push(Method {
                    name: mname,
                    ret,
                    args,
                });
            }
            Body::Interface { constants, methods }
        }
        other => return Err(format!("{other} declarations are not modelled")),
    };
    if let Some(t) = p.peek() {
        return Err(format!("trailing {t:?} after {name}"));
    }
    Ok(Decl {
        package,
        name,
        body,
    })
}

/// How a type is stored (aidl_to_rust.cpp `StorageMode`, the cases our AIDL reaches).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Return values and `in` primitives/enums.
    Value,
    /// Parcelable fields.
    Field,
    /// `in` parcelables and interfaces: by reference.
    InRef,
    /// `in` String and arrays: `&str`, `&[T]`.
    Unsized,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Enum,
    /// A parcelable or a union: stored and passed alike.
    Parcelable,
    Interface,
}

struct Emitter<'a> {
    kinds: BTreeMap<&'a str, Kind>,
    root: String,
}

impl Emitter<'_> {
    fn path(&self, name: &str) -> String {
        format!("{}::{name}::{name}", self.root)
    }

    fn kind(&self, name: &str) -> Option<Kind> {
        let short = name.rsplit('.').next().unwrap_or(name);
        self.kinds.get(short).copied()
    }

    /// `GetRustName`: the element type.
    fn element(&self, t: &TypeRef, mode: Mode) -> Result<String, String> {
        let prim = match t.name.as_str() {
            "void" => Some("()"),
            "boolean" => Some("bool"),
            "byte" if t.array => Some("u8"),
            "byte" => Some("i8"),
            "char" => Some("u16"),
            "int" => Some("i32"),
            "long" => Some("i64"),
            "float" => Some("f32"),
            "double" => Some("f64"),
            "String" if mode == Mode::Unsized && !t.array => Some("str"),
            "String" => Some("String"),
            _ => None,
        };
        if let Some(p) = prim {
            return Ok(p.to_owned());
        }
        let short = t.name.rsplit('.').next().unwrap_or(&t.name);
        match self.kind(&t.name) {
            Some(Kind::Interface) => Ok(format!("binder::Strong<dyn {}>", self.path(short))),
            Some(_) => Ok(self.path(short)),
            None => Err(format!("type {} is not modelled", t.name)),
        }
    }

    /// `RustNameOf` for the modes above.
    fn rust(&self, t: &TypeRef, mode: Mode) -> Result<String, String> {
        let mut s = if t.array {
            if t.nullable {
                return Err(format!("@nullable {}[] is not modelled", t.name));
            }
            let e = self.element(t, Mode::Value)?;
            if mode == Mode::Unsized {
                format!("[{e}]")
            } else {
                format!("Vec<{e}>")
            }
        } else {
            self.element(t, mode)?
        };
        if matches!(mode, Mode::InRef | Mode::Unsized) {
            s = format!("&{s}");
        }
        if mode == Mode::Field && !t.array && self.kind(&t.name) == Some(Kind::Interface) {
            return Err(format!("interface field {} is not modelled", t.name));
        }
        if t.nullable {
            s = format!("Option<{s}>");
        }
        Ok(s)
    }

    /// `ArgumentStorageMode` for `in` arguments.
    fn arg_mode(&self, t: &TypeRef) -> Mode {
        let primitive = ["boolean", "byte", "char", "int", "long", "float", "double"]
            .contains(&t.name.as_str());
        if t.name == "String" || t.array {
            Mode::Unsized
        } else if primitive || self.kind(&t.name) == Some(Kind::Enum) {
            Mode::Value
        } else {
            Mode::InRef
        }
    }
}

fn backing(aidl: &str) -> Result<&'static str, String> {
    match aidl {
        "byte" => Ok("i8"),
        "int" => Ok("i32"),
        "long" => Ok("i64"),
        other => Err(format!("enum backing {other} is not valid")),
    }
}

/// Writes `lib.rs` of the modelled `vendor.drivervm-V<version>-rust` crate for `decls`, all in one
/// package, stamped with `version` and `hash` as `aidl --version --hash` does.
pub fn emit(decls: &[Decl], version: i32, hash: &str) -> Result<String, String> {
    let package = &decls.first().ok_or("no AIDL declarations")?.package;
    if let Some(d) = decls.iter().find(|d| &d.package != package) {
        return Err(format!("{} is in {}, not {package}", d.name, d.package));
    }
    let kinds = decls
        .iter()
        .map(|d| {
            let k = match d.body {
                Body::Enum(..) => Kind::Enum,
                Body::Parcelable(_) | Body::Union(_) => Kind::Parcelable,
                Body::Interface { .. } => Kind::Interface,
            };
            (d.name.as_str(), k)
        })
        .collect();
    let segments: Vec<&str> = package.split('.').collect();
    let e = Emitter {
        kinds,
        root: format!("crate::aidl::{}", segments.join("::")),
    };

    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "//! Model of the Rust crate Soong generates from {package} V{version}; written by \
         tests/soong_shim for type-checking only.\n\
         #![allow(non_snake_case, non_upper_case_globals, dead_code, unused_variables)]\n\
         pub use binder;\n\
         /// Diverges: this crate is only type-checked.\n\
         fn model_only() -> ! {{ panic!(\"AIDL model: compile checks only\") }}\n\
         pub mod aidl {{"
    );
    for s in &segments {
        let _ = writeln!(w, "pub mod {s} {{");
    }
    for d in decls {
        let n = &d.name;
        let _ = writeln!(w, "pub mod {n} {{");
        match &d.body {
            Body::Enum(back, values) => {
                let b = backing(back)?;
                let _ = writeln!(
                    w,
                    "#[derive(Default, Copy, Clone, PartialOrd, Ord, PartialEq, Eq, Hash)]\n\
                     pub struct {n}(pub {b});\nimpl {n} {{"
                );
                for (v, num) in values {
                    let _ = writeln!(w, "  pub const {v}: Self = Self({num});");
                }
                let all: Vec<String> = values.iter().map(|(v, _)| format!("Self::{v}")).collect();
                let _ = writeln!(
                    w,
                    "  pub const fn enum_values() -> [Self; {}] {{ [{}] }}\n}}\n\
                     impl std::fmt::Debug for {n} {{\n  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) \
                     -> std::fmt::Result {{ crate::model_only() }}\n}}",
                    values.len(),
                    all.join(", ")
                );
            }
            Body::Parcelable(fields) => {
                let _ = writeln!(w, "#[derive(Debug)]\npub struct {n} {{");
                for f in fields {
                    let _ = writeln!(w, "  pub r#{}: {},", f.name, e.rust(&f.ty, Mode::Field)?);
                }
                let _ = writeln!(
                    w,
                    "}}\nimpl Default for {n} {{ fn default() -> Self {{ crate::model_only() }} }}"
                );
            }
            Body::Union(fields) => {
                // generate_rust.cpp: `pub enum U { Field(T), .. }`, the field name with its
                // first letter upper-cased.
                let _ = writeln!(w, "#[derive(Debug)]\npub enum {n} {{");
                for f in fields {
                    let mut variant = f.name.clone();
                    if let Some(first) = variant.get_mut(..1) {
                        first.make_ascii_uppercase();
                    }
                    let _ = writeln!(w, "  {variant}({}),", e.rust(&f.ty, Mode::Field)?);
                }
                let _ = writeln!(
                    w,
                    "}}\nimpl Default for {n} {{ fn default() -> Self {{ crate::model_only() }} }}"
                );
            }
            Body::Interface { constants, methods } => {
                let stem = n.strip_prefix('I').unwrap_or(n);
                let _ = writeln!(
                    w,
                    "pub trait {n}: binder::Interface + Send {{\n  fn get_descriptor() -> &'static str \
                     where Self: Sized {{ \"{package}.{n}\" }}"
                );
                for m in methods {
                    let mut args = String::new();
                    for (t, a) in &m.args {
                        let _ = write!(args, ", _arg_{a}: {}", e.rust(t, e.arg_mode(t))?);
                    }
                    let _ = writeln!(
                        w,
                        "  fn r#{}(&self{args}) -> binder::Result<{}>;",
                        m.name,
                        e.rust(&m.ret, Mode::Value)?
                    );
                }
                let _ = writeln!(
                    w,
                    "  fn getInterfaceVersion(&self) -> binder::Result<i32> {{ Ok(VERSION) }}\n  \
                     fn getInterfaceHash(&self) -> binder::Result<String> {{ Ok(HASH.into()) }}\n}}\n\
                     pub struct Bn{stem}(Box<dyn {n} + Sync + Send + 'static>);\n\
                     impl Bn{stem} {{\n  pub fn new_binder<T: {n} + Sync + Send + 'static>(inner: T, \
                     features: binder::BinderFeatures) -> binder::Strong<dyn {n}> {{ crate::model_only() }}\n}}\n\
                     impl binder::FromIBinder for dyn {n} {{\n  fn try_from(ibinder: binder::SpIBinder) -> \
                     std::result::Result<binder::Strong<dyn {n}>, binder::StatusCode> {{ crate::model_only() }}\n}}\n\
                     impl std::fmt::Debug for dyn {n} + '_ {{\n  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) \
                     -> std::fmt::Result {{ f.pad(\"{n}\") }}\n}}"
                );
                for (c, v) in constants {
                    let _ = writeln!(w, "pub const r#{c}: i32 = {v};");
                }
                let _ = writeln!(
                    w,
                    "pub const VERSION: i32 = {version};\npub const HASH: &str = \"{hash}\";"
                );
            }
        }
        let _ = writeln!(w, "}}");
    }
    for _ in &segments {
        let _ = writeln!(w, "}}");
    }
    let _ = writeln!(w, "}}");
    Ok(out)
}
