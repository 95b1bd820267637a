//! The subset of CEL that `when` expressions use in practice (alpha:
//! `enable-cel-in-whenexpression`): literals (strings, integers, `true`, `false`, lists),
//! `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `!`, `&&`, `||` and parentheses. Tekton substitutes
//! `$(...)` references into the expression text first (`"'$(params.branch)' == 'main'"`), so
//! after substitution an expression is made of literals.
//!
//! Anything outside the subset (variables, function calls, arithmetic, macros) is an error
//! that names what tkc does not evaluate, never a silent `true`.

use std::fmt;

/// A value of the subset.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "'{s}'"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Str(String),
    Int(i64),
    Ident(String),
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("a string literal is not closed".into()),
                    Some(&q) if q == c => break,
                    Some('\\') => {
                        let escaped = match chars.get(i + 1) {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some(&other) => other,
                            None => return Err("a string literal is not closed".into()),
                        };
                        s.push(escaped);
                        i += 2;
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push(Token::Str(s));
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse()
                .map_err(|_| format!("the number `{text}` is out of range"))?;
            out.push(Token::Int(n));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(op) = op {
            out.push(Token::Op(op));
            i += 2;
            continue;
        }
        let op = match c {
            '<' => "<",
            '>' => ">",
            '!' => "!",
            '(' => "(",
            ')' => ")",
            '[' => "[",
            ']' => "]",
            ',' => ",",
            other => return Err(format!("`{other}` is not supported")),
        };
        out.push(Token::Op(op));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, op: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Op(o)) if *o == op);
        if found {
            self.at += 1;
        }
        found
    }

    fn or(&mut self) -> Result<Value, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Value::Bool(truth(&left)? || truth(&right)?);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Value, String> {
        let mut left = self.relation()?;
        while self.eat("&&") {
            let right = self.relation()?;
            left = Value::Bool(truth(&left)? && truth(&right)?);
        }
        Ok(left)
    }

    fn relation(&mut self) -> Result<Value, String> {
        let left = self.unary()?;
        let op = match self.peek() {
            Some(Token::Op(op @ ("==" | "!=" | "<" | "<=" | ">" | ">="))) => *op,
            Some(Token::Ident(word)) if word == "in" => "in",
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.unary()?;
        compare(op, &left, &right)
    }

    fn unary(&mut self) -> Result<Value, String> {
        if self.eat("!") {
            let value = self.unary()?;
            return Ok(Value::Bool(!truth(&value)?));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Value, String> {
        let Some(token) = self.tokens.get(self.at).cloned() else {
            return Err("the expression ends too early".into());
        };
        self.at += 1;
        match token {
            Token::Str(s) => Ok(Value::Str(s)),
            Token::Int(i) => Ok(Value::Int(i)),
            Token::Ident(word) => match word.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "`{word}` is not supported (after substitution only literals remain; quote \
                     references: `'$(params.x)'`)"
                )),
            },
            Token::Op("(") => {
                let value = self.or()?;
                if !self.eat(")") {
                    return Err("a `(` is not closed".into());
                }
                Ok(value)
            }
            Token::Op("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.or()?);
                        if self.eat("]") {
                            break;
                        }
                        if !self.eat(",") {
                            return Err("expected `,` or `]` in a list".into());
                        }
                    }
                }
                Ok(Value::List(items))
            }
            Token::Op(op) => Err(format!("unexpected `{op}`")),
        }
    }
}

fn truth(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("{other} is not a boolean")),
    }
}

fn compare(op: &str, left: &Value, right: &Value) -> Result<Value, String> {
    use std::cmp::Ordering;
    if op == "in" {
        return match right {
            Value::List(items) => Ok(Value::Bool(items.contains(left))),
            other => Err(format!("`in` needs a list on its right, found {other}")),
        };
    }
    let ordering = match (left, right) {
        (Value::Str(a), Value::Str(b)) => a.cmp(b),
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::List(_), Value::List(_)) if matches!(op, "==" | "!=") => {
            return Ok(Value::Bool((left == right) == (op == "==")));
        }
        _ => return Err(format!("cannot compare {left} and {right} (types differ)")),
    };
    Ok(Value::Bool(match op {
        "==" => ordering == Ordering::Equal,
        "!=" => ordering != Ordering::Equal,
        "<" => ordering == Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        _ => ordering != Ordering::Less,
    }))
}

/// Evaluates an expression (references already substituted).
pub fn evaluate(text: &str) -> Result<Value, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let value = parser.or()?;
    match parser.peek() {
        None => Ok(value),
        Some(token) => Err(format!("unexpected {token:?} after the expression")),
    }
}

/// Evaluates a `when` CEL expression to a boolean.
pub fn evaluate_bool(text: &str) -> Result<bool, String> {
    truth(&evaluate(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_when_expressions_use() {
        assert_eq!(evaluate_bool("'README.md' == 'README.md'"), Ok(true));
        assert_eq!(evaluate_bool("'yes'=='missing'"), Ok(false));
        assert_eq!(
            evaluate_bool("'a' != 'b' && !('x' in ['y', 'z'])"),
            Ok(true)
        );
        assert_eq!(evaluate_bool("1 < 2 || false"), Ok(true));
        assert_eq!(evaluate_bool("'main' in ['main', 'release']"), Ok(true));
        assert_eq!(evaluate_bool("\"it's\" == 'it\\'s'"), Ok(true));
    }

    #[test]
    fn outside_the_subset_is_an_error_not_true() {
        assert!(evaluate_bool("params.x == 'a'").is_err());
        assert!(evaluate_bool("'a'.startsWith('b')").is_err());
        assert!(evaluate_bool("1 + 1 == 2").is_err());
        assert!(evaluate_bool("'a' == 1").is_err());
        assert!(evaluate_bool("'unclosed").is_err());
        assert!(evaluate_bool("('a' == 'a'").is_err());
        assert!(evaluate_bool("").is_err());
        assert!(evaluate_bool("'a'").is_err());
    }
}
