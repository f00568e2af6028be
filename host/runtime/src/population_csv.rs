//! Populations as CSV, the way registry extracts look: one row per member
//! of a household, the household's own columns repeated on each of its
//! rows. Columns are named after the entry's schema, so a new field needs
//! no mapping:
//!
//! - a household field by its name: `id`, `district`, `last_visit`;
//! - a member field as `members.age`, or just `age` when no household
//!   field and no other list has that name;
//! - any list or object field as one column of JSON text (`cases`).
//!
//! Consecutive rows with the same `id` (or, without an `id` field, the same
//! first household column) are one household. An empty cell is an absent
//! field (its default applies); `null` is null. Yes/no cells read `true`,
//! `false`, `1`, `0`, `yes`, `no`, `y`, `n`, `是` or `否`.
//!
//! The header is checked against the schema before any row is read: an
//! unknown column or a missing required one stops the run with a message
//! naming it. A bad household (a cell of the wrong type, columns that do
//! not repeat, a row of the wrong length) is reported with its line number
//! and the run goes on.

use std::io::{self, Read};

use eligo_core::schema::{Field, Kind, ObjectType, Schema};
use serde_json::{Map, Value};

use crate::batch::CHUNK_LINES;
use crate::sources::{Household, Population};

/// Rows kept for one household at most; the rest of an endless household
/// is skipped, and it is reported as bad.
const MAX_ROWS: usize = 1_000;

/// One column: the field it fills, and its type.
#[derive(Debug, Clone)]
struct Column {
    index: usize,
    name: String,
    field: String,
    kind: Kind,
    nullable: bool,
}

/// What the header says about each column.
#[derive(Debug)]
struct Layout {
    household: Vec<Column>,
    /// The list whose items the rows are (its field name) and their columns.
    list: Option<(String, Vec<Column>)>,
    /// The column that tells households apart.
    key: usize,
    width: usize,
}

/// A CSV population read against an entry's schema.
pub struct CsvPopulation<R: Read> {
    rows: csv::Reader<LineLimit<R>>,
    layout: Layout,
    /// The first row of the next household, read ahead.
    pending: Option<Row>,
}

/// A row as read: its line, and its cells (or why it cannot be read).
struct Row {
    line: usize,
    cells: Result<Vec<String>, String>,
    key: Vec<u8>,
}

impl<R: Read> CsvPopulation<R> {
    /// Reads the header and checks it against `schema`.
    pub fn new(schema: &Schema, input: R) -> Result<CsvPopulation<R>, String> {
        let mut rows = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(LineLimit::new(input));
        let header = rows
            .byte_headers()
            .map_err(|error| format!("line 1: cannot read the header: {error}"))?
            .clone();
        let names = header
            .iter()
            .map(|name| {
                std::str::from_utf8(name)
                    .map(|name| name.trim().trim_start_matches('\u{feff}').to_string())
                    .map_err(|_| "line 1: a column name is not UTF-8".to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let layout =
            Layout::new(&schema.root, &names).map_err(|message| format!("line 1: {message}"))?;
        Ok(CsvPopulation {
            rows,
            layout,
            pending: None,
        })
    }

    fn read_row(&mut self) -> io::Result<Option<Row>> {
        let mut record = csv::ByteRecord::new();
        match self.rows.read_byte_record(&mut record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                return match error.into_kind() {
                    csv::ErrorKind::Io(error) => Err(error),
                    other => Ok(Some(Row {
                        line,
                        cells: Err(format!("not CSV: {other:?}")),
                        key: Vec::new(),
                    })),
                };
            }
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let key = record.get(self.layout.key).unwrap_or_default().to_vec();
        let cells = if record.len() != self.layout.width {
            Err(format!(
                "line {line} has {} cells where the header has {}",
                record.len(),
                self.layout.width
            ))
        } else {
            record
                .iter()
                .map(|cell| {
                    std::str::from_utf8(cell)
                        .map(str::to_string)
                        .map_err(|_| format!("line {line} is not UTF-8"))
                })
                .collect()
        };
        Ok(Some(Row { line, cells, key }))
    }

    fn next_household(&mut self) -> io::Result<Option<Household>> {
        let first = match self.pending.take() {
            Some(row) => row,
            None => match self.read_row()? {
                Some(row) => row,
                None => return Ok(None),
            },
        };
        let mut rows = vec![first];
        let mut too_many = false;
        while let Some(row) = self.read_row()? {
            if row.key != rows[0].key {
                self.pending = Some(row);
                break;
            }
            if rows.len() < MAX_ROWS {
                rows.push(row);
            } else {
                too_many = true;
            }
        }
        let line = rows[0].line;
        let input = if too_many {
            Err(format!("more than {MAX_ROWS} rows for one household"))
        } else {
            self.layout.household_json(&rows)
        };
        Ok(Some(Household::at_line(line, input)))
    }
}

impl<R: Read> Population for CsvPopulation<R> {
    fn next_chunk(&mut self) -> io::Result<Vec<Household>> {
        let mut chunk = Vec::new();
        while chunk.len() < CHUNK_LINES {
            match self.next_household()? {
                Some(household) => chunk.push(household),
                None => break,
            }
        }
        Ok(chunk)
    }
}

/// The object type a list field's items have, if they are objects.
fn list_items(field: &Field) -> Option<&ObjectType> {
    match &field.kind {
        Kind::Array { items, .. } => match items.as_ref() {
            Kind::Object { object } => Some(object),
            _ => None,
        },
        _ => None,
    }
}

fn required_without_default(field: &Field) -> bool {
    field.required && field.default.is_none()
}

impl Layout {
    fn new(root: &ObjectType, names: &[String]) -> Result<Layout, String> {
        let mut household = Vec::new();
        let mut list: Option<(String, Vec<Column>)> = None;
        let column = |index: usize, name: &str, field_name: &str, field: &Field| Column {
            index,
            name: name.to_string(),
            field: field_name.to_string(),
            kind: field.kind.clone(),
            nullable: field.nullable,
        };
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                return Err(format!("column `{name}` appears twice"));
            }
            if let Some(field) = root.fields.get(name) {
                household.push(column(index, name, name, field));
                continue;
            }
            // `members.age`, or `age` found in exactly one list.
            let (list_name, item_name, item) = match name.split_once('.') {
                Some((list_name, item_name)) => {
                    let item = root
                        .fields
                        .get(list_name)
                        .and_then(list_items)
                        .and_then(|items| items.fields.get(item_name));
                    match item {
                        Some(item) => (list_name.to_string(), item_name, item),
                        None => return Err(unknown_column(root, name)),
                    }
                }
                None => {
                    let found: Vec<(&String, &Field)> = root
                        .fields
                        .iter()
                        .filter_map(|(list_name, field)| {
                            list_items(field)
                                .and_then(|items| items.fields.get(name))
                                .map(|item| (list_name, item))
                        })
                        .collect();
                    match found.as_slice() {
                        [(list_name, item)] => (list_name.to_string(), name.as_str(), *item),
                        [] => return Err(unknown_column(root, name)),
                        several => {
                            let lists: Vec<String> = several
                                .iter()
                                .map(|(l, _)| format!("`{l}.{name}`"))
                                .collect();
                            return Err(format!(
                                "column `{name}` could be {}: name it with its list",
                                lists.join(" or ")
                            ));
                        }
                    }
                }
            };
            match &mut list {
                Some((current, _)) if *current != list_name => {
                    return Err(format!(
                        "columns of two lists, `{current}` and `{list_name}`: rows can be the items of one list only (give the other as one column of JSON)"
                    ))
                }
                Some((_, columns)) => columns.push(column(index, name, item_name, item)),
                None => list = Some((list_name, vec![column(index, name, item_name, item)])),
            }
        }
        // Every required field is there.
        for (name, field) in &root.fields {
            let given = household.iter().any(|c| c.field == *name)
                || list.as_ref().is_some_and(|(l, _)| l == name);
            if required_without_default(field) && !given {
                return Err(match list_items(field) {
                    Some(_) => format!(
                        "no column for `{name}`, which is required: give its items' fields as columns (`{name}.…`, one row per item) or `{name}` as JSON"
                    ),
                    None => format!("missing column `{name}`, which is required"),
                });
            }
        }
        if let Some((list_name, columns)) = &list {
            if household.iter().any(|c| c.field == *list_name) {
                return Err(format!(
                    "`{list_name}` is given both as a column and as its items' columns"
                ));
            }
            let items = root.fields.get(list_name).and_then(list_items);
            for (name, field) in items.into_iter().flat_map(|items| &items.fields) {
                if required_without_default(field) && !columns.iter().any(|c| c.field == *name) {
                    return Err(format!(
                        "missing column `{list_name}.{name}`, which is required"
                    ));
                }
            }
        }
        let key = household
            .iter()
            .find(|c| c.field == "id")
            .or(household.first())
            .map(|c| c.index)
            .ok_or("no household column (such as `id`) to tell households apart")?;
        Ok(Layout {
            household,
            list,
            key,
            width: names.len(),
        })
    }

    /// One household's input, as JSON text.
    fn household_json(&self, rows: &[Row]) -> Result<Vec<u8>, String> {
        let mut cells_of_rows = Vec::with_capacity(rows.len());
        for row in rows {
            cells_of_rows.push((row.line, row.cells.as_ref().map_err(Clone::clone)?));
        }
        let (first_line, first) = cells_of_rows[0];
        let mut object = Map::new();
        for column in &self.household {
            let cell = &first[column.index];
            for (line, cells) in &cells_of_rows[1..] {
                if cells[column.index] != *cell {
                    return Err(format!(
                        "column `{}` is `{}` on line {line} but `{cell}` on the household's first line: a household's columns repeat on each of its rows",
                        column.name, cells[column.index]
                    ));
                }
            }
            if let Some(value) = cell_value(column, cell)? {
                object.insert(column.field.clone(), value);
            }
        }
        if let Some((list_name, columns)) = &self.list {
            let mut items = Vec::new();
            for (line, cells) in &cells_of_rows {
                let mut item = Map::new();
                for column in columns {
                    let at_line = |message: String| match *line == first_line {
                        true => message,
                        false => format!("on line {line}, {message}"),
                    };
                    if let Some(value) =
                        cell_value(column, &cells[column.index]).map_err(at_line)?
                    {
                        item.insert(column.field.clone(), value);
                    }
                }
                // A row with every item cell empty is a household without items.
                if !item.is_empty() {
                    items.push(Value::Object(item));
                }
            }
            object.insert(list_name.clone(), Value::Array(items));
        }
        Ok(serde_json::to_vec(&Value::Object(object)).expect("JSON values serialise"))
    }
}

fn unknown_column(root: &ObjectType, name: &str) -> String {
    let mut known: Vec<String> = Vec::new();
    for (field_name, field) in &root.fields {
        known.push(field_name.clone());
        if let Some(items) = list_items(field) {
            known.extend(
                items
                    .fields
                    .keys()
                    .map(|item| format!("{field_name}.{item}")),
            );
        }
    }
    format!(
        "unknown column `{name}`: not a field of the `{}` input; known: {}",
        root.name,
        known.join(", ")
    )
}

/// A cell's value for its field; `None` for an empty cell (absent).
fn cell_value(column: &Column, cell: &str) -> Result<Option<Value>, String> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(None);
    }
    if cell == "null" && column.nullable {
        return Ok(Some(Value::Null));
    }
    let wrong = |what: &str| format!("column `{}`: `{cell}` is not {what}", column.name);
    let value = match &column.kind {
        Kind::Integer { .. } => Value::from(cell.parse::<i64>().map_err(|_| wrong("an integer"))?),
        // The number's text is kept exactly (money never becomes a float).
        Kind::Money { .. } | Kind::Decimal { .. } => {
            let number: serde_json::Number = cell
                .parse()
                .ok()
                .filter(|_| !cell.contains(['e', 'E']))
                .ok_or_else(|| wrong("a decimal number"))?;
            Value::Number(number)
        }
        Kind::Bool => Value::Bool(match cell.to_lowercase().as_str() {
            "true" | "1" | "yes" | "y" | "是" => true,
            "false" | "0" | "no" | "n" | "否" => false,
            _ => return Err(wrong("yes or no (true/false, 1/0, yes/no, 是/否)")),
        }),
        Kind::Array { .. } | Kind::Object { .. } => eligo_core::strict_json::parse(cell)
            .map_err(|error| format!("column `{}` is not JSON: {error}", column.name))?,
        Kind::String { .. } | Kind::Enum { .. } | Kind::Date | Kind::Timestamp | Kind::Month => {
            Value::String(cell.to_string())
        }
    };
    Ok(Some(value))
}

/// Stops a read at a line longer than any household's input may be, so a
/// file without line breaks cannot fill memory.
struct LineLimit<R> {
    inner: R,
    since_newline: usize,
}

impl<R> LineLimit<R> {
    fn new(inner: R) -> LineLimit<R> {
        LineLimit {
            inner,
            since_newline: 0,
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            if byte == b'\n' {
                self.since_newline = 0;
            } else {
                self.since_newline += 1;
                if self.since_newline > eligo_core::api::MAX_INPUT_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a CSV line is longer than {} bytes",
                            eligo_core::api::MAX_INPUT_BYTES
                        ),
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// The same population written as CSV: a header from the schema (every
/// household field, a required list of objects as its items' columns
/// `members.…`, any other list as one column of JSON), then one row per
/// item with the household's cells repeated.
pub struct CsvWriter {
    household: Vec<(String, bool)>,
    list: Option<(String, Vec<String>)>,
}

impl CsvWriter {
    pub fn new(schema: &Schema) -> CsvWriter {
        // The rows are the items of a required list (members), else of
        // the first list of objects.
        let fields = &schema.root.fields;
        let lists = || fields.iter().filter(|(_, f)| list_items(f).is_some());
        let row_list = lists()
            .find(|(_, field)| field.required)
            .or_else(|| lists().next())
            .map(|(name, _)| name.clone());
        let mut household = Vec::new();
        let mut list = None;
        for (name, field) in fields {
            match list_items(field) {
                Some(items) if Some(name) == row_list.as_ref() => {
                    list = Some((name.clone(), items.fields.keys().cloned().collect()))
                }
                _ => {
                    let json = matches!(field.kind, Kind::Array { .. } | Kind::Object { .. });
                    household.push((name.clone(), json));
                }
            }
        }
        CsvWriter { household, list }
    }

    pub fn header(&self) -> Vec<String> {
        let mut names: Vec<String> = self.household.iter().map(|(n, _)| n.clone()).collect();
        if let Some((list, items)) = &self.list {
            names.extend(items.iter().map(|item| format!("{list}.{item}")));
        }
        names
    }

    /// A household's rows (one per list item; one row if it has none).
    pub fn rows(&self, household: &Value) -> Vec<Vec<String>> {
        let text = |value: Option<&Value>, json: bool| match value {
            None => String::new(),
            Some(Value::String(text)) if !json => text.clone(),
            Some(other) => other.to_string(),
        };
        let cells: Vec<String> = self
            .household
            .iter()
            .map(|(name, json)| text(household.get(name), *json))
            .collect();
        let Some((list, item_fields)) = &self.list else {
            return vec![cells];
        };
        let items = household
            .get(list)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if items.is_empty() {
            let mut row = cells;
            row.extend(item_fields.iter().map(|_| String::new()));
            return vec![row];
        }
        items
            .iter()
            .map(|item| {
                let mut row = cells.clone();
                row.extend(item_fields.iter().map(|field| text(item.get(field), false)));
                row
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"
[fields]
id = { type = "string", required = true }
district = { type = "enum", values = ["urban", "rural"], required = true }
last_visit = { type = "date", nullable = true }
on_roll = { type = "bool", default = false }
members = { type = "array", items = "Member", min_items = 1, required = true }
cases = { type = "array", items = "Case", default = [] }

[types.Member]
age = { type = "integer", required = true }
income = { type = "money", required = true }
id = { type = "string" }

[types.Case]
id = { type = "string", required = true }
"#;

    fn schema() -> Schema {
        eligo_core::schema::parse("schema.toml", SCHEMA).unwrap()
    }

    /// Each household's first line and its input (or why it has none).
    type Read = Vec<(usize, Result<Value, String>)>;

    fn households(csv: &str) -> Result<Read, String> {
        let mut population = CsvPopulation::new(&schema(), csv.as_bytes())?;
        let mut all = Vec::new();
        loop {
            let chunk = population.next_chunk().unwrap();
            if chunk.is_empty() {
                return Ok(all);
            }
            all.extend(chunk.into_iter().map(|household| {
                (
                    household.line,
                    household
                        .input
                        .map(|bytes| serde_json::from_slice(&bytes).unwrap()),
                )
            }));
        }
    }

    #[test]
    fn rows_of_one_household_become_its_members() {
        let csv = "id,district,last_visit,on_roll,members.age,income,cases\n\
                   h1,urban,2026-10-01,yes,40,1200.50,\"[{\"\"id\"\":\"\"c1\"\"}]\"\n\
                   h1,urban,2026-10-01,yes,12,0,\"[{\"\"id\"\":\"\"c1\"\"}]\"\n\
                   h2,rural,null,否,70,800.10,\n";
        let all = households(csv).unwrap();
        assert_eq!(all.len(), 2);
        let (line, h1) = &all[0];
        assert_eq!(*line, 2);
        let h1 = h1.as_ref().unwrap();
        assert_eq!(
            h1.to_string(),
            r#"{"cases":[{"id":"c1"}],"district":"urban","id":"h1","last_visit":"2026-10-01","members":[{"age":40,"income":1200.50},{"age":12,"income":0}],"on_roll":true}"#
        );
        let (line, h2) = &all[1];
        assert_eq!(*line, 4);
        let h2 = h2.as_ref().unwrap();
        assert_eq!(h2["last_visit"], Value::Null);
        assert_eq!(h2["on_roll"], false);
        assert!(
            h2.get("cases").is_none(),
            "an empty cell is an absent field"
        );
        // Money keeps its exact text.
        assert_eq!(h2["members"][0]["income"].to_string(), "800.10");
    }

    #[test]
    fn a_bad_household_is_reported_by_line_and_the_rest_are_read() {
        let csv = "id,district,members.age,members.income\n\
                   h1,urban,forty,10\n\
                   h2,urban,30,10\n\
                   h2,rural,31,10\n\
                   h3,urban,30,1e3\n\
                   h4,urban,30\n\
                   h5,urban,30,10\n";
        let all = households(csv).unwrap();
        let errors: Vec<(usize, String)> = all
            .iter()
            .filter_map(|(line, h)| h.as_ref().err().map(|e| (*line, e.clone())))
            .collect();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(errors[0].0, 2);
        assert!(
            errors[0]
                .1
                .contains("`members.age`: `forty` is not an integer"),
            "{errors:?}"
        );
        assert_eq!(errors[1].0, 3);
        assert!(
            errors[1].1.contains("`district` is `rural` on line 4"),
            "{errors:?}"
        );
        assert!(
            errors[2].1.contains("`1e3` is not a decimal number"),
            "{errors:?}"
        );
        assert!(
            errors[3]
                .1
                .contains("line 6 has 3 cells where the header has 4"),
            "{errors:?}"
        );
        assert_eq!(all.last().unwrap().0, 7);
        assert!(all.last().unwrap().1.is_ok());
    }

    #[test]
    fn the_header_is_checked_against_the_schema() {
        let header_error = |header: &str| match CsvPopulation::new(&schema(), header.as_bytes()) {
            Ok(_) => panic!("accepted {header}"),
            Err(message) => message,
        };
        let e = header_error("id,district,age,income,colour\n");
        assert!(e.starts_with("line 1: unknown column `colour`"), "{e}");
        assert!(e.contains("members.age"), "names the known columns: {e}");
        let e = header_error("id,members.age,income\n");
        assert!(e.contains("missing column `district`"), "{e}");
        let e = header_error("id,district,age\n");
        assert!(e.contains("missing column `members.income`"), "{e}");
        let e = header_error("id,district\n");
        assert!(e.contains("no column for `members`"), "{e}");
        let e = header_error("id,district,age,income,cases.id\n");
        assert!(e.contains("columns of two lists"), "{e}");
        let e = header_error("id,district,age,income,age\n");
        assert!(e.contains("appears twice"), "{e}");
    }

    #[test]
    fn the_writer_and_the_reader_agree() {
        let household: Value = serde_json::from_str(
            r#"{"cases":[{"id":"c1"}],"district":"urban","id":"h1","last_visit":null,"members":[{"age":40,"income":1200.50},{"age":12,"id":"kid","income":0}],"on_roll":true}"#,
        )
        .unwrap();
        let writer = CsvWriter::new(&schema());
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(writer.header()).unwrap();
        for row in writer.rows(&household) {
            out.write_record(&row).unwrap();
        }
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        let all = households(&text).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1.as_ref().unwrap(), &household);
    }
}
