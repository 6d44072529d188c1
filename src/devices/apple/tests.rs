//! The reader on the fixtures of tests/fixtures/apple-health/ (shaped as the Health app writes
//! them) and on hostile files.

use std::io::{Cursor, Write};

use super::*;
use crate::devices::DeviceDays;
use crate::domain::day::Day;
use crate::domain::entry::Measure;
use crate::domain::timezone::TimeZone;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/apple-health/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn read(bytes: &[u8], zone: &str) -> Result<DeviceDays, Refusal> {
    let mut aggregator = DayAggregator::new(TimeZone::parse(zone).map_err(|_| Refusal::NotAnExport)?);
    read_export(&mut Cursor::new(bytes), &mut aggregator)?;
    Ok(aggregator.finish())
}

fn day(text: &str) -> Day {
    Day::parse_ymd(text).unwrap_or(Day::MIN)
}

fn zipped(name: &str, content: &[u8]) -> std::fs::File {
    let mut file = tempfile::tempfile().expect("temp file");
    {
        let mut writer = zip::ZipWriter::new(&mut file);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file(name, options).expect("zip entry");
        writer.write_all(content).expect("zip content");
        writer.finish().expect("zip written");
    }
    file
}

#[test]
fn the_fixture_maps_onto_its_days() {
    let days = read(&fixture("export.xml"), "America/Los_Angeles").expect("read");
    let first = days.days.get(&day("2024-06-01")).expect("2024-06-01");
    assert_eq!(first.get(Measure::Steps), Some(6500.0));
    assert_eq!(first.get(Measure::HeartRate), Some(66.0));
    assert_eq!(first.get(Measure::RestingHeartRate), Some(58.0));
    assert_eq!(first.get(Measure::Weight), Some(77.11));
    assert_eq!(first.get(Measure::ActiveEnergy), Some(400.0));
    assert_eq!(first.get(Measure::Calories), Some(1650.0));
    assert_eq!(first.get(Measure::WaterIntake), Some(4.1));
    assert_eq!(first.get(Measure::Sleep), Some(7.5));
    assert_eq!(
        (first.get(Measure::Systolic), first.get(Measure::Diastolic)),
        (Some(121.0), Some(78.0))
    );
    assert!(first.workouts);
    let second = days.days.get(&day("2024-06-02")).expect("2024-06-02");
    assert_eq!(second.get(Measure::Steps), Some(9200.0));
    assert_eq!(second.get(Measure::HeartRate), None, "250 bpm is outside the rule");
    assert_eq!(days.days.len(), 2);
    assert_eq!(days.tally.records_read, 28);
    assert_eq!(days.tally.records_used, 24);
    assert_eq!(days.tally.dropped, 1);
    assert_eq!(
        days.tally.skipped_types.get("HKQuantityTypeIdentifierFlightsClimbed"),
        Some(&1)
    );
    assert_eq!(days.tally.skipped_types.get("ActivitySummary"), Some(&1));
}

#[test]
fn a_zip_holding_the_export_reads_the_same() {
    let file = zipped("apple_health_export/export.xml", &fixture("export.xml"));
    let zone = TimeZone::parse("America/Los_Angeles").expect("zone");
    let mut aggregator = DayAggregator::new(zone);
    with_export_xml(file, 1 << 30, |input| read_export(input, &mut aggregator)).expect("read");
    assert_eq!(
        aggregator.finish(),
        read(&fixture("export.xml"), "America/Los_Angeles").expect("read")
    );
}

#[test]
fn a_zip_without_export_xml_is_refused() {
    let file = zipped("apple_health_export/export_cda.xml", b"<ClinicalDocument/>");
    let mut aggregator = DayAggregator::new(TimeZone::UTC);
    let refused = with_export_xml(file, 1 << 30, |input| read_export(input, &mut aggregator));
    assert!(matches!(refused, Err(Refusal::NoExportXml)), "{refused:?}");
}

#[test]
fn a_zip_bomb_is_refused_by_its_ratio_and_by_its_size() {
    let zeros = vec![b' '; 8 << 20];
    let mut aggregator = DayAggregator::new(TimeZone::UTC);
    let refused = with_export_xml(zipped("export.xml", &zeros), 1 << 30, |input| {
        read_export(input, &mut aggregator)
    });
    assert!(matches!(refused, Err(Refusal::Ratio)), "{refused:?}");
    let refused = with_export_xml(zipped("export.xml", &fixture("export.xml")), 1024, |input| {
        read_export(input, &mut aggregator)
    });
    assert!(matches!(refused, Err(Refusal::Unzipped(1024))), "{refused:?}");
}

#[test]
fn billion_laughs_is_refused_without_expanding_anything() {
    let refused = read(&fixture("billion-laughs.xml"), "UTC");
    assert!(matches!(refused, Err(Refusal::Entities)), "{refused:?}");
}

#[test]
fn an_external_entity_is_refused_never_fetched() {
    let refused = read(&fixture("external-entity.xml"), "UTC");
    assert!(matches!(refused, Err(Refusal::Entities)), "{refused:?}");
}

#[test]
fn an_undeclared_entity_reference_is_refused() {
    let xml = br#"<HealthData><Record type="HKQuantityTypeIdentifierStepCount" sourceName="&lol9;" unit="count" startDate="2024-06-01 09:00:00 -0700" endDate="2024-06-01 09:00:00 -0700" value="1"/></HealthData>"#;
    assert!(matches!(read(xml, "UTC"), Err(Refusal::Entities)));
}

#[test]
fn a_truncated_file_is_refused() {
    let refused = read(&fixture("truncated.xml"), "UTC");
    assert!(matches!(refused, Err(Refusal::Truncated)), "{refused:?}");
    // Cut between two elements, too.
    let whole = fixture("export.xml");
    let cut = whole.len() - "</HealthData>\n".len();
    assert!(matches!(read(&whole[..cut], "UTC"), Err(Refusal::Truncated)));
}

#[test]
fn something_else_is_not_an_export() {
    for other in [&b""[..], b"hello", b"{\"data\":{}}", b"<?xml version=\"1.0\"?><rss/>"] {
        let refused = read(other, "UTC");
        assert!(matches!(refused, Err(Refusal::NotAnExport)), "{refused:?}");
    }
}

#[test]
fn an_endless_tag_stops_at_the_event_cap() {
    let mut xml = b"<HealthData><Record type=\"".to_vec();
    xml.extend(std::iter::repeat_n(b'x', (MAX_EVENT_BYTES as usize) * 2));
    let refused = read(&xml, "UTC");
    assert!(matches!(refused, Err(Refusal::EventTooLong)), "{refused:?}");
}

#[test]
fn an_entity_in_an_unread_attribute_is_refused_and_predefined_ones_are_read() {
    let xml = br#"<HealthData><Record type="HKQuantityTypeIdentifierStepCount" device="&xxe;" unit="count" startDate="2024-06-01 09:00:00 -0700" endDate="2024-06-01 09:00:00 -0700" value="1"/></HealthData>"#;
    assert!(matches!(read(xml, "UTC"), Err(Refusal::Entities)));
    let xml = br#"<HealthData><Record type="HKQuantityTypeIdentifierStepCount" sourceName="Jane&apos;s &#x1F4F1; &amp; co" device="&lt;&lt;HKDevice&gt;" unit="count" startDate="2024-06-01 09:00:00 -0700" endDate="2024-06-01 09:00:00 -0700" value="1"/></HealthData>"#;
    assert_eq!(read(xml, "UTC").map(|days| days.tally.records_used).ok(), Some(1));
}
