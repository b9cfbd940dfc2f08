//! An action's parameters, from a query string or a JSON body, read the way
//! CKAN reads them: numbers and booleans may come as strings, lists as JSON
//! arrays, JSON-encoded strings or comma-separated text.

use serde_json::{Map, Value};

use super::CkanError;

#[derive(Debug, Default)]
pub struct Params(Map<String, Value>);

impl Params {
    /// The query string's parameters, then the body's (which win).
    pub fn from_request(query: Option<&str>, body: &[u8]) -> Result<Self, CkanError> {
        let mut map = Map::new();
        if let Some(q) = query {
            let pairs = url_decode_pairs(q);
            for (k, v) in pairs {
                map.insert(k, Value::String(v));
            }
        }
        let trimmed = body.iter().position(|b| !b.is_ascii_whitespace());
        if trimmed.is_some() {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(fields)) => map.extend(fields),
                _ => {
                    return Err(CkanError::BadRequest(
                        "Bad request - JSON Error: the body must be a JSON object of parameters"
                            .into(),
                    ));
                }
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A text parameter; numbers are accepted as their text.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn required(&self, key: &str) -> Result<String, CkanError> {
        self.text(key)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| CkanError::Validation(format!("{key}: Missing value")))
    }

    /// A whole number in `min..=max`, `default` when absent.
    pub fn int(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, CkanError> {
        let bad = || {
            CkanError::Validation(format!(
                "{key}: Invalid integer (a whole number from {min} to {max})"
            ))
        };
        let n = match self.get(key) {
            None => return Ok(default),
            Some(Value::Number(n)) => n.as_i64().ok_or_else(bad)?,
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(default),
            Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| bad())?,
            Some(_) => return Err(bad()),
        };
        if n < min || n > max {
            return Err(bad());
        }
        Ok(n)
    }

    pub fn boolean(&self, key: &str, default: bool) -> Result<bool, CkanError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" | "" => Ok(false),
                _ => Err(CkanError::Validation(format!("{key}: Invalid boolean"))),
            },
            Some(_) => Err(CkanError::Validation(format!("{key}: Invalid boolean"))),
        }
    }

    /// A list: a JSON array, a JSON-encoded array in a string, or text
    /// separated by commas.
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, CkanError> {
        let bad = || CkanError::Validation(format!("{key}: Not a list"));
        let text_of = |v: &Value| match v {
            Value::String(s) => Ok(s.trim().to_owned()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(bad()),
        };
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(values)) => {
                Ok(Some(values.iter().map(text_of).collect::<Result<_, _>>()?))
            }
            Some(Value::String(s)) if s.trim_start().starts_with('[') => {
                match serde_json::from_str::<Value>(s) {
                    Ok(Value::Array(values)) => {
                        Ok(Some(values.iter().map(text_of).collect::<Result<_, _>>()?))
                    }
                    _ => Err(bad()),
                }
            }
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect(),
            )),
            Some(_) => Err(bad()),
        }
    }

    /// An object: a JSON object, or one JSON-encoded in a string.
    pub fn object(&self, key: &str) -> Result<Option<Map<String, Value>>, CkanError> {
        let bad = || CkanError::Validation(format!("{key}: Not a JSON object"));
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
        }
    }
}

/// `a=1&b=%E4%B8%AD` → pairs, `+` as a space, as forms encode it.
fn url_decode_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Percent-decoding; a `%` not followed by two hex digits stays as it is.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex_value(h).zip(hex_value(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_and_bodies_read_alike() {
        let p = Params::from_request(
            Some("q=%E4%BA%BA%E5%8F%A3+x&rows=5&facet.field=%5B%22tags%22%5D"),
            b"",
        )
        .unwrap();
        assert_eq!(p.text("q").as_deref(), Some("人口 x"));
        assert_eq!(p.int("rows", 10, 0, 1000).unwrap(), 5);
        assert_eq!(
            p.list("facet.field").unwrap(),
            Some(vec!["tags".to_owned()])
        );
        let p = Params::from_request(
            None,
            br#"{"q": "*:*", "rows": "7", "facet.field": ["organization"]}"#,
        )
        .unwrap();
        assert_eq!(p.int("rows", 10, 0, 1000).unwrap(), 7);
        assert_eq!(
            p.list("facet.field").unwrap(),
            Some(vec!["organization".to_owned()])
        );
        assert!(p.int("q", 0, 0, 1).is_err());
        assert!(Params::from_request(None, b"[1]").is_err());
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
