//! Importing the address register and contacts (CSV; addresses also as GeoJSON).
//!
//! Each row is validated on its own and a bad row is reported with its line number
//! and reason. `Skip` mode (the CLI default) imports the good rows; `Strict` mode
//! (the API default) imports nothing unless every row is good, so a half-applied
//! file never surprises an integrator. Re-importing is idempotent by external id;
//! consent is never touched by an import (an opted-out contact stays opted out),
//! and a destination that texted STOP or whose person deleted their data is not
//! added back. Each contact an import adds gets a consent-ledger event naming
//! the list.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::auth::ServerKey;
use crate::domain::address::{register_text, AddressError};
use crate::domain::consent::{Method, Via};
use crate::domain::contact::{Destination, Language};
use crate::domain::{Address, Channel, Utility, Window};
use crate::error::{Error, Result};
use crate::store::{BulkTable, ImportCounts, NewAddress, NewContact, Store};

/// Rows written per transaction.
const BATCH: usize = 5_000;
/// Imports writing at least this many rows refresh the database's statistics
/// ([`crate::store::Database::after_bulk_load`]); small corrections through the API do not.
const BULK: u64 = 10_000;

/// Where rows come from: bytes in memory (an API request body), or a file read
/// as a stream, so importing a register of millions of addresses takes a batch's
/// worth of memory, not the file's. (A GeoJSON file is one document and is read
/// whole.)
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

impl<'a> Input<'a> {
    fn open(&self) -> Result<Box<dyn Read + Send + 'a>> {
        match *self {
            Input::Bytes(b) => Ok(Box::new(b)),
            Input::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| {
                    Error::Internal(anyhow::anyhow!("cannot read {}: {e}", path.display()))
                })?;
                Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, file)))
            }
        }
    }

    fn read_all(&self) -> Result<Vec<u8>> {
        let mut all = Vec::new();
        self.open()?
            .read_to_end(&mut all)
            .map_err(|e| Error::Internal(anyhow::anyhow!("cannot read input: {e}")))?;
        Ok(all)
    }

    fn is_json(&self) -> Result<bool> {
        let mut prefix = Vec::with_capacity(64);
        self.open()?
            .take(64)
            .read_to_end(&mut prefix)
            .map_err(|e| Error::Internal(anyhow::anyhow!("cannot read input: {e}")))?;
        Ok(is_json(&prefix))
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1), or feature number for GeoJSON.
    pub line: u64,
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Skip,
    Strict,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Contacts left out because their destination texted STOP or deleted
    /// its data: an import never adds them back.
    #[serde(skip_serializing_if = "is_zero")]
    pub suppressed: u64,
    pub errors: Vec<RowError>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ImportReport {
    fn add(&mut self, c: ImportCounts, batch: u64) {
        self.inserted += c.inserted;
        self.updated += c.updated;
        self.unchanged += batch - c.inserted - c.updated;
    }
}

type Rows<'a, T> = Box<dyn Iterator<Item = std::result::Result<T, RowError>> + Send + 'a>;

fn row_error(line: u64, field: &str, reason: impl Into<String>) -> RowError {
    RowError {
        line,
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Maps required (and optional) header names to column positions.
fn columns(
    headers: &csv::StringRecord,
    required: &[&str],
    optional: &[&str],
) -> Result<Vec<Option<usize>>> {
    let find = |name: &str| {
        headers.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    };
    let mut out = Vec::new();
    for name in required {
        match find(name) {
            Some(i) => out.push(Some(i)),
            None => {
                return Err(Error::invalid(
                    "header",
                    format!(
                        "missing column '{name}'; expected header {}",
                        required.join(",")
                    ),
                ))
            }
        }
    }
    out.extend(optional.iter().map(|name| find(name)));
    Ok(out)
}

/// A CSV record and its line, or the row error for a record that cannot be read.
fn record_at(
    record: std::result::Result<csv::StringRecord, csv::Error>,
) -> std::result::Result<(csv::StringRecord, u64), RowError> {
    match record {
        Ok(r) => {
            let line = r.position().map_or(0, |p| p.line());
            Ok((r, line))
        }
        Err(e) => {
            let line = e.position().map_or(0, |p| p.line());
            Err(row_error(line, "row", format!("unreadable CSV: {e}")))
        }
    }
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input)
}

const ADDRESS_COLUMNS: &[&str] = &[
    "external_id",
    "street",
    "house_number",
    "postcode",
    "settlement",
    "lon",
    "lat",
];

struct AddressFields<'a> {
    external_id: &'a str,
    street: &'a str,
    house_number: &'a str,
    postcode: &'a str,
    settlement: &'a str,
    lon: std::result::Result<f64, String>,
    lat: std::result::Result<f64, String>,
    utilities: &'a str,
}

fn validate_address(line: u64, f: AddressFields<'_>) -> std::result::Result<NewAddress, RowError> {
    let refused = |e: AddressError| row_error(line, e.field, e.reason);
    let external_id = register_text("external_id", f.external_id, 100, true).map_err(refused)?;
    // The street and the postcode may be empty: a village without streets is
    // addressed by settlement and house number, and many registers have no postcodes.
    let address =
        Address::new(f.street, f.house_number, f.postcode, f.settlement).map_err(refused)?;
    let coordinate = |field: &str, value: std::result::Result<f64, String>, limit: f64| {
        let v = value.map_err(|e| row_error(line, field, e))?;
        if !v.is_finite() || v.abs() > limit {
            return Err(row_error(
                line,
                field,
                format!("{v} is outside -{limit}..{limit}"),
            ));
        }
        Ok(v)
    };
    Ok(NewAddress {
        external_id,
        address,
        lon: coordinate("lon", f.lon, 180.0)?,
        lat: coordinate("lat", f.lat, 90.0)?,
        utilities: Utility::parse_mask(f.utilities).map_err(|e| row_error(line, "utilities", e))?,
    })
}

fn parse_number(s: &str) -> std::result::Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("'{s}' is not a number"))
}

fn csv_addresses<'a, R: Read + Send + 'a>(input: R) -> Result<Rows<'a, NewAddress>> {
    let mut reader = csv_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| Error::invalid("header", format!("cannot read CSV header: {e}")))?
        .clone();
    let cols = columns(&headers, ADDRESS_COLUMNS, &["utilities"])?;
    Ok(Box::new(reader.into_records().map(move |record| {
        let (record, line) = record_at(record)?;
        let get = |i: usize| cols[i].and_then(|c| record.get(c)).unwrap_or("");
        validate_address(
            line,
            AddressFields {
                external_id: get(0),
                street: get(1),
                house_number: get(2),
                postcode: get(3),
                settlement: get(4),
                lon: parse_number(get(5)),
                lat: parse_number(get(6)),
                utilities: get(7),
            },
        )
    })))
}

fn geojson_addresses(input: &[u8]) -> Result<Rows<'static, NewAddress>> {
    let value: serde_json::Value = serde_json::from_slice(input)
        .map_err(|e| Error::invalid("body", format!("not valid GeoJSON: {e}")))?;
    let features = match value.get("type").and_then(|t| t.as_str()) {
        Some("FeatureCollection") => value
            .get("features")
            .and_then(|f| f.as_array())
            .cloned()
            .ok_or_else(|| Error::invalid("features", "expected an array of Point features"))?,
        Some("Feature") => vec![value],
        _ => {
            return Err(Error::invalid(
                "type",
                "expected a FeatureCollection of Point features",
            ))
        }
    };
    Ok(Box::new(features.into_iter().enumerate().map(
        |(i, feature)| {
            let n = i as u64 + 1;
            let geometry = feature.get("geometry");
            if geometry
                .and_then(|g| g.get("type"))
                .and_then(|t| t.as_str())
                != Some("Point")
            {
                return Err(row_error(n, "geometry", "expected a Point"));
            }
            let coordinates = geometry
                .and_then(|g| g.get("coordinates"))
                .and_then(|c| c.as_array())
                .filter(|c| c.len() >= 2)
                .ok_or_else(|| row_error(n, "geometry.coordinates", "expected [lon, lat]"))?;
            let number =
                |v: &serde_json::Value| v.as_f64().ok_or_else(|| "not a number".to_string());
            let empty = serde_json::Map::new();
            let props = feature
                .get("properties")
                .and_then(|p| p.as_object())
                .unwrap_or(&empty);
            // Properties may be numbers (house numbers, postcodes) as well as strings.
            let texts: Vec<String> = [
                "external_id",
                "street",
                "house_number",
                "postcode",
                "settlement",
                "utilities",
            ]
            .iter()
            .map(|k| match props.get(*k) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(x)) => x.to_string(),
                _ => String::new(),
            })
            .collect();
            validate_address(
                n,
                AddressFields {
                    external_id: &texts[0],
                    street: &texts[1],
                    house_number: &texts[2],
                    postcode: &texts[3],
                    settlement: &texts[4],
                    lon: number(&coordinates[0]),
                    lat: number(&coordinates[1]),
                    utilities: &texts[5],
                },
            )
        },
    )))
}

/// True when the data looks like JSON rather than CSV.
fn is_json(prefix: &[u8]) -> bool {
    prefix
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF)
        .is_some_and(|b| *b == b'{')
}

const CONTACT_COLUMNS: &[&str] = &["address_external_id", "channel", "destination", "language"];

fn csv_contacts<'a, R: Read + Send + 'a>(
    input: R,
    region: phonenumber::country::Id,
    key: &'a ServerKey,
) -> Result<Rows<'a, (u64, NewContact)>> {
    let mut reader = csv_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| Error::invalid("header", format!("cannot read CSV header: {e}")))?
        .clone();
    let cols = columns(&headers, CONTACT_COLUMNS, &["window", "time_zone"])?;
    Ok(Box::new(reader.into_records().map(move |record| {
        let (record, line) = record_at(record)?;
        let get = |i: usize| cols[i].and_then(|c| record.get(c)).unwrap_or("");
        let address = get(0).trim();
        if address.is_empty() {
            return Err(row_error(line, "address_external_id", "is empty"));
        }
        let channel: Channel =
            get(1).trim().to_ascii_lowercase().parse().map_err(|_| {
                row_error(line, "channel", format!("'{}' is not email or sms", get(1)))
            })?;
        let destination = Destination::parse(channel, get(2), region)
            .map_err(|e| row_error(line, "destination", e.to_string()))?;
        let language: Language = get(3).trim().parse().map_err(|_| {
            row_error(
                line,
                "language",
                format!("'{}' is not one of hu, pl, en", get(3)),
            )
        })?;
        // Optional: an empty cell (or no column) leaves what the contact chose.
        let window = match get(4).trim() {
            "" => None,
            w => Some(Window::parse(w).map_err(|e| row_error(line, "window", e))?),
        };
        let time_zone = match get(5).trim() {
            "" => None,
            z => Some(z.parse::<Tz>().map_err(|_| {
                row_error(
                    line,
                    "time_zone",
                    format!("'{z}' is not a time zone such as Europe/Budapest"),
                )
            })?),
        };
        Ok((
            line,
            NewContact {
                address_external_id: address.to_string(),
                channel,
                suppression: key.suppression(channel, destination.as_str()),
                destination: destination.as_str().to_string(),
                language,
                window,
                time_zone,
            },
        ))
    })))
}

/// Imports addresses from CSV or GeoJSON bytes.
pub async fn import_addresses(
    store: &Store,
    input: Input<'_>,
    mode: Mode,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let json = input.is_json()?;
    let rows = || {
        if json {
            geojson_addresses(&input.read_all()?)
        } else {
            csv_addresses(input.open()?)
        }
    };
    let mut report = ImportReport::default();
    if mode == Mode::Strict {
        let errors: Vec<RowError> = rows()?.filter_map(|r| r.err()).collect();
        if !errors.is_empty() {
            return Err(strict_error(errors));
        }
    }
    let mut batch = Vec::with_capacity(BATCH);
    for row in rows()? {
        report.rows += 1;
        match row {
            Ok(a) => batch.push(a),
            Err(e) => {
                report.rejected += 1;
                report.errors.push(e);
            }
        }
        if batch.len() == BATCH {
            report.add(
                store.upsert_addresses(&batch, now).await?,
                batch.len() as u64,
            );
            batch.clear();
        }
    }
    if !batch.is_empty() {
        report.add(
            store.upsert_addresses(&batch, now).await?,
            batch.len() as u64,
        );
    }
    if report.inserted + report.updated >= BULK {
        store.after_bulk_load(BulkTable::Addresses).await?;
    }
    Ok(report)
}

/// Where a contact list comes from: its name, for the consent ledger (an
/// import is how its contacts' consent was given), and the deployment's key,
/// to find the destinations no import may add back.
#[derive(Clone, Copy)]
pub struct ListSource<'a> {
    pub name: &'a str,
    pub key: &'a ServerKey,
}

/// Imports contacts from CSV bytes.
pub async fn import_contacts(
    store: &Store,
    input: Input<'_>,
    source: ListSource<'_>,
    region: phonenumber::country::Id,
    mode: Mode,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut rows: Vec<(u64, NewContact)> = Vec::new();
    let mut errors = Vec::new();
    for row in csv_contacts(input.open()?, region, source.key)? {
        report.rows += 1;
        match row {
            Ok(r) => rows.push(r),
            Err(e) => errors.push(e),
        }
    }
    if mode == Mode::Strict && !errors.is_empty() {
        return Err(strict_error(errors));
    }
    if mode == Mode::Strict {
        // Unknown addresses are only known to the database: check them all before
        // writing anything.
        let mut unknown = Vec::new();
        for chunk in rows.chunks(BATCH) {
            let contacts: Vec<NewContact> = chunk.iter().map(|(_, c)| c.clone()).collect();
            for i in store.unknown_addresses(&contacts).await? {
                unknown.push(unknown_address(chunk[i].0, &chunk[i].1));
            }
        }
        if !unknown.is_empty() {
            return Err(strict_error(unknown));
        }
    }
    let via = Via::new(Method::Import, source.name, None);
    for chunk in rows.chunks(BATCH) {
        let contacts: Vec<NewContact> = chunk.iter().map(|(_, c)| c.clone()).collect();
        let result = store.upsert_contacts(&contacts, &via, now).await?;
        let applied = (chunk.len() - result.unknown_address.len() - result.suppressed.len()) as u64;
        report.add(result.counts, applied);
        report.suppressed += result.suppressed.len() as u64;
        for i in result.unknown_address {
            errors.push(unknown_address(chunk[i].0, &chunk[i].1));
        }
    }
    if report.inserted + report.updated >= BULK {
        store.after_bulk_load(BulkTable::Contacts).await?;
    }
    errors.sort_by_key(|e| e.line);
    report.rejected = errors.len() as u64;
    report.errors = errors;
    Ok(report)
}

fn unknown_address(line: u64, c: &NewContact) -> RowError {
    row_error(
        line,
        "address_external_id",
        format!("no address with external id '{}'", c.address_external_id),
    )
}

/// A strict import's refusal: the first errors, each with its line.
fn strict_error(errors: Vec<RowError>) -> Error {
    let first = &errors[0];
    let mut message = format!(
        "{} bad row(s); nothing imported. line {}: {}: {}",
        errors.len(),
        first.line,
        first.field,
        first.reason
    );
    for e in errors.iter().skip(1).take(9) {
        message.push_str(&format!("; line {}: {}: {}", e.line, e.field, e.reason));
    }
    Error::invalid(format!("line {}.{}", first.line, first.field), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_validated_with_line_numbers() {
        let data = "external_id,street,house_number,postcode,settlement,lon,lat,utilities\n\
                    A1,Fő utca,1,1011,Budapest,19.04,47.49,power;water\n\
                    A2,Fő utca,2,1011,,19.04,47.49,\n\
                    A3,Fő utca,3,1011,Budapest,190,47.49,\n\
                    A4,Fő utca,4,1011,Budapest,x,47.49,\n\
                    A5,Fő utca,5,1011,Budapest,19.04,47.49,steam\n\
                    A6,Fő utca,,1011,Budapest,19.04,47.49,\n\
                    ,Fő utca,7,1011,Budapest,19.04,47.49,\n";
        let rows: Vec<_> = csv_addresses(data.as_bytes()).unwrap().collect();
        assert_eq!(rows[0].as_ref().unwrap().utilities, 0b11);
        let errs: Vec<_> = rows.into_iter().filter_map(|r| r.err()).collect();
        let fields: Vec<(u64, &str)> = errs.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                (3, "settlement"),
                (4, "lon"),
                (5, "lon"),
                (6, "utilities"),
                (7, "house_number"),
                (8, "external_id")
            ]
        );
    }

    #[test]
    fn streets_and_postcodes_may_be_empty_and_house_numbers_stay_as_written() {
        let data = "external_id,street,house_number,postcode,settlement,lon,lat\n\
                    W1,,12/A,,Wola Zaradzyńska,20.71,50.60\n\
                    W2,,3-5,26-020,Wola Zaradzyńska,20.71,50.60\n\
                    K1,Petőfi Sándor utca,hrsz. 0123/4,,Kisfalu,19.70,46.60\n\
                    K2,utca,7,,Kisfalu,19.70,46.60\n";
        let rows: Vec<NewAddress> = csv_addresses(data.as_bytes())
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let parts: Vec<(Option<&str>, &str, Option<&str>)> = rows
            .iter()
            .map(|a| {
                (
                    a.address.street(),
                    a.address.house_number(),
                    a.address.postcode(),
                )
            })
            .collect();
        assert_eq!(
            parts,
            vec![
                (None, "12/A", None),
                (None, "3-5", Some("26-020")),
                (Some("Petőfi Sándor utca"), "hrsz. 0123/4", None),
                (None, "7", None),
            ]
        );
    }

    #[test]
    fn missing_column_names_it() {
        let err = csv_addresses("external_id,street\n".as_bytes())
            .err()
            .unwrap();
        assert!(err.to_string().contains("house_number"), "{err}");
    }

    #[test]
    fn geojson_points() {
        let data = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","geometry":{"type":"Point","coordinates":[18.6,54.38]},
             "properties":{"external_id":"G1","street":"Długa","house_number":5,"postcode":"80-827","settlement":"Gdańsk"}},
            {"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]},"properties":{}}]}"#.as_bytes();
        assert!(is_json(data));
        let rows: Vec<_> = geojson_addresses(data).unwrap().collect();
        let a = &rows[0].as_ref().unwrap().address;
        assert_eq!((a.house_number(), a.street()), ("5", Some("Długa")));
        assert_eq!(rows[1].as_ref().unwrap_err().field, "geometry");
    }

    #[test]
    fn contacts_are_normalised() {
        let data = "address_external_id,channel,destination,language\n\
                    A1,sms,06 30 123 4567,hu\n\
                    A1,email,Anna@Example.COM,en\n\
                    A1,sms,12,hu\n\
                    A1,fax,123,hu\n\
                    A1,email,nobody,xx\n";
        let region = crate::domain::contact::parse_region("HU").unwrap();
        let rows: Vec<_> = csv_contacts(data.as_bytes(), region, &ServerKey::new("test"))
            .unwrap()
            .collect();
        assert_eq!(rows[0].as_ref().unwrap().1.destination, "+36301234567");
        assert_eq!(rows[1].as_ref().unwrap().1.destination, "Anna@example.com");
        let errs: Vec<_> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert_eq!(
            errs,
            vec![(4, "destination"), (5, "channel"), (6, "destination")]
        );
    }

    #[test]
    fn a_window_and_time_zone_are_optional_and_checked() {
        let data = "address_external_id,channel,destination,language,window,time_zone\n\
                    A1,sms,06 30 123 4567,hu,07:00-21:00,\n\
                    A2,sms,06 30 123 4568,hu,,Europe/Warsaw\n\
                    A3,sms,06 30 123 4569,hu,7-21,\n\
                    A4,sms,06 30 123 4570,hu,any,Mars/Olympus\n";
        let region = crate::domain::contact::parse_region("HU").unwrap();
        let rows: Vec<_> = csv_contacts(data.as_bytes(), region, &ServerKey::new("test"))
            .unwrap()
            .collect();
        let first = &rows[0].as_ref().unwrap().1;
        assert_eq!(first.window, Some(Window::parse("07:00-21:00").unwrap()));
        assert_eq!(first.time_zone, None);
        let second = &rows[1].as_ref().unwrap().1;
        assert_eq!(second.window, None);
        assert_eq!(second.time_zone, Some(chrono_tz::Europe::Warsaw));
        let errs: Vec<_> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert_eq!(errs, vec![(4, "window"), (5, "time_zone")]);
    }
}
