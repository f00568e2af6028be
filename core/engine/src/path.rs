//! JSON paths (`members[1].age`) built as a chain on the stack and rendered
//! only when a message needs one, so walking valid data allocates nothing.

use std::fmt;

/// One step of a path, pointing back at its parent.
#[derive(Debug, Clone, Copy)]
pub enum JsonPath<'a> {
    /// The whole value, shown as `$` (or `name` for a named root).
    Root(&'a str),
    Field(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl<'a> JsonPath<'a> {
    /// The whole input.
    pub const INPUT: JsonPath<'static> = JsonPath::Root("$");

    pub fn field(&'a self, name: &'a str) -> JsonPath<'a> {
        JsonPath::Field(self, name)
    }

    pub fn index(&'a self, index: usize) -> JsonPath<'a> {
        JsonPath::Index(self, index)
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root(name) => f.write_str(name),
            // Top-level fields read `age`, not `$.age`.
            JsonPath::Field(JsonPath::Root("$"), name) => f.write_str(name),
            JsonPath::Field(parent, name) => write!(f, "{parent}.{name}"),
            JsonPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_json_paths() {
        let root = JsonPath::INPUT;
        let members = root.field("members");
        let second = members.index(1);
        assert_eq!(second.field("age").to_string(), "members[1].age");
        assert_eq!(root.to_string(), "$");
        assert_eq!(root.index(0).to_string(), "$[0]");
        let named = JsonPath::Root("result");
        assert_eq!(named.field("a").index(2).to_string(), "result.a[2]");
    }
}
