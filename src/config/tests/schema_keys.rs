//! Lists every key the config schema accepts, straight from the raw serde structs, so the
//! example-coverage test cannot fall behind the schema.
//!
//! A tracing deserializer walks the derived `Deserialize` impls: structs report their field
//! names, sequences yield one element, options are present, enums report all their variants
//! (as TOML writes an externally tagged enum as a one-key table) and are entered through
//! one variant per pass: pass n enters variant n (or the last), and passes repeat until
//! one adds no key, so every variant's fields are traced.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde::de::value::{Error, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::Deserialize;

use crate::config::raw::RawConfig;

/// Every dotted key path the schema accepts, as in `guest.device.kind`.
pub fn schema_keys() -> BTreeSet<String> {
    let keys = RefCell::new(BTreeSet::new());
    for pass in 0.. {
        let before = keys.borrow().len();
        let traced = RawConfig::deserialize(Tracer {
            path: String::new(),
            keys: &keys,
            pass,
        });
        if let Err(e) = traced {
            panic!("schema tracer failed: {e}");
        }
        if pass > 0 && keys.borrow().len() == before {
            break;
        }
    }
    keys.into_inner()
}

/// Every dotted key path that a TOML document sets (arrays of tables add no path segment).
pub fn document_keys(text: &str) -> BTreeSet<String> {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => panic!("not TOML: {e}"),
    };
    let mut keys = BTreeSet::new();
    collect(&table, "", &mut keys);
    keys
}

fn collect(table: &toml::Table, prefix: &str, keys: &mut BTreeSet<String>) {
    for (k, v) in table {
        let path = join(prefix, k);
        keys.insert(path.clone());
        match v {
            toml::Value::Table(t) => collect(t, &path, keys),
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(t) = item {
                        collect(t, &path, keys);
                    }
                }
            }
            _ => {}
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

struct Tracer<'a> {
    path: String,
    keys: &'a RefCell<BTreeSet<String>>,
    /// Which variant of each enum this pass enters.
    pass: usize,
}

impl<'a> Tracer<'a> {
    fn child(&self, key: &str) -> Tracer<'a> {
        let path = join(&self.path, key);
        self.keys.borrow_mut().insert(path.clone());
        Tracer {
            path,
            keys: self.keys,
            pass: self.pass,
        }
    }
}

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(de::Error::custom(format!(
            "cannot trace a self-describing value at `{}`",
            self.path
        )))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_map(Fields {
            tracer: self,
            fields: fields.iter(),
            next: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let children: Vec<_> = variants.iter().map(|v| self.child(v)).collect();
        let pick = self.pass.min(variants.len().saturating_sub(1));
        match (variants.get(pick), children.into_iter().nth(pick)) {
            (Some(&name), Some(tracer)) => visitor.visit_enum(Variant { name, tracer }),
            _ => Err(de::Error::custom("enum without variants")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(One(Some(self)))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("")
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("")
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(false)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct tuple tuple_struct map identifier ignored_any
    }
}

/// Hands a struct's fields to its visitor, each value traced under the field's path.
struct Fields<'a> {
    tracer: Tracer<'a>,
    fields: std::slice::Iter<'static, &'static str>,
    next: Option<&'static str>,
}

impl<'de> de::MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        self.next = self.fields.next().copied();
        match self.next {
            Some(f) => {
                let key: StrDeserializer<'_, Error> = f.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let field = self.next.unwrap_or_default();
        seed.deserialize(self.tracer.child(field))
    }
}

/// A sequence of exactly one traced element.
struct One<'a>(Option<Tracer<'a>>);

impl<'de> de::SeqAccess<'de> for One<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.take() {
            Some(t) => seed.deserialize(t).map(Some),
            None => Ok(None),
        }
    }
}

/// An enum entered through one variant.
struct Variant<'a> {
    name: &'static str,
    tracer: Tracer<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for Variant<'a> {
    type Error = Error;
    type Variant = Tracer<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Tracer<'a>), Error> {
        let name: StrDeserializer<'_, Error> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, self.tracer))
    }
}

impl<'de> de::VariantAccess<'de> for Tracer<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Error> {
        Err(de::Error::custom(
            "tuple variants have no TOML keys to trace",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}
