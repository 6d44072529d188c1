//! The Apple Health export (`export.xml`, or the `export.zip` holding it) as samples: a pull parser
//! (quick-xml) over the file, one event at a time. The Health app writes
//!
//! ```text
//! <!DOCTYPE HealthData [ …its DTD: ELEMENT and ATTLIST declarations… ]>
//! <HealthData locale="en_US">
//!  <ExportDate value="2024-06-02 08:00:00 -0700"/>
//!  <Me HKCharacteristicTypeIdentifierDateOfBirth="…" …/>
//!  <Record type="HKQuantityTypeIdentifierStepCount" sourceName="…" sourceVersion="…" device="…"
//!          unit="count" creationDate="…" startDate="…" endDate="…" value="523">
//!   <MetadataEntry key="…" value="…"/>
//!  </Record>
//!  <Correlation type="HKCorrelationTypeIdentifierBloodPressure" … startDate="…">
//!   <Record type="HKQuantityTypeIdentifierBloodPressureSystolic" unit="mmHg" value="121" …/>
//!   <Record type="HKQuantityTypeIdentifierBloodPressureDiastolic" unit="mmHg" value="78" …/>
//!  </Correlation>
//!  <Workout workoutActivityType="…" startDate="…" …><WorkoutStatistics …/><WorkoutEvent …/></Workout>
//!  <ActivitySummary …/>
//! </HealthData>
//! ```
//!
//! Entity declarations are refused (the Health app writes none: a file with one is a billion-laughs
//! or an external-entity attack, and nothing is ever expanded or fetched); only XML's predefined
//! entities are read in attribute values.

mod dates;
mod source;

use std::io::{self, BufRead};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

pub use self::dates::parse_timestamp;
use self::source::{EventBounded, Stop};
pub use self::source::{MAX_EVENT_BYTES, MAX_RATIO, with_export_xml};
use super::aggregate::DayAggregator;
use super::sample::{Metric, Sample, SleepStage};

/// Why a file is refused (400), or could not be read (500).
#[derive(Debug)]
pub enum Refusal {
    NotAnExport,
    BadZip,
    NoExportXml,
    /// Would unpack beyond this many bytes.
    Unzipped(u64),
    Ratio,
    Entities,
    EventTooLong,
    Truncated,
    Malformed(String),
    Io(io::Error),
}

impl Refusal {
    /// The answer's message (`None`: not the file's fault).
    pub fn message(&self) -> Option<String> {
        Some(match self {
            Refusal::NotAnExport => {
                "Not an Apple Health export: send the export.zip or the export.xml the Health app writes".into()
            }
            Refusal::BadZip => "Not a readable zip archive".into(),
            Refusal::NoExportXml => "The zip holds no export.xml: send the export.zip the Health app writes".into(),
            Refusal::Unzipped(limit) => format!("The zip unpacks beyond {limit} bytes (DEVICE_IMPORT_MAX_UNZIPPED)"),
            Refusal::Ratio => format!("The zip unpacks at a ratio over {MAX_RATIO}:1"),
            Refusal::Entities => {
                "XML entity declarations and references are not accepted (the Health app writes none)".into()
            }
            Refusal::EventTooLong => format!("An XML element of the export is longer than {MAX_EVENT_BYTES} bytes"),
            Refusal::Truncated => "The export ends before it is complete: the file is truncated".into(),
            Refusal::Malformed(why) => format!("The export is not well-formed XML: {why}"),
            Refusal::Io(_) => return None,
        })
    }
}

fn refusal(error: quick_xml::Error) -> Refusal {
    use quick_xml::errors::SyntaxError;
    match error {
        quick_xml::Error::Io(io) => match Stop::of(&io) {
            Some(Stop::Unzipped(limit)) => Refusal::Unzipped(limit),
            Some(Stop::Ratio) => Refusal::Ratio,
            Some(Stop::EventTooLong) => Refusal::EventTooLong,
            // A zip whose data ends early or fails its checksum.
            None if matches!(io.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData) => {
                Refusal::Truncated
            }
            None => Refusal::Io(io::Error::new(io.kind(), io.to_string())),
        },
        quick_xml::Error::Syntax(
            SyntaxError::UnclosedTag
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedPI
            | SyntaxError::UnclosedXmlDecl
            | SyntaxError::UnclosedSingleQuotedAttributeValue
            | SyntaxError::UnclosedDoubleQuotedAttributeValue,
        ) => Refusal::Truncated,
        quick_xml::Error::Escape(_) => Refusal::Entities,
        other => Refusal::Malformed(other.to_string()),
    }
}

/// The attributes of a record the mapping reads, in buffers reused from record to record.
#[derive(Default)]
struct Attributes {
    kind: String,
    source: String,
    unit: String,
    value: String,
    start: Option<i64>,
    end: Option<i64>,
}

impl Attributes {
    fn read(&mut self, element: &BytesStart<'_>) -> Result<(), Refusal> {
        self.kind.clear();
        self.source.clear();
        self.unit.clear();
        self.value.clear();
        self.start = None;
        self.end = None;
        for attribute in element.attributes().with_checks(false) {
            let attribute = attribute.map_err(|error| Refusal::Malformed(error.to_string()))?;
            let slot = match attribute.key.as_ref() {
                "type" | "workoutActivityType" if self.kind.is_empty() => &mut self.kind,
                "sourceName" => &mut self.source,
                "unit" => &mut self.unit,
                "value" => &mut self.value,
                "startDate" => {
                    self.start = parse_timestamp(attribute.value.as_bytes());
                    continue;
                }
                "endDate" => {
                    self.end = parse_timestamp(attribute.value.as_bytes());
                    continue;
                }
                // Unread, but an entity reference anywhere is refused like one in a read value.
                _ if !only_predefined_entities(&attribute.value) => return Err(Refusal::Entities),
                _ => continue,
            };
            if attribute.value.contains('&') {
                slot.push_str(
                    &attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|_| Refusal::Entities)?,
                );
            } else {
                slot.push_str(&attribute.value);
            }
        }
        Ok(())
    }

    fn number(&self) -> Option<f64> {
        self.value.trim().parse::<f64>().ok().filter(|v| v.is_finite())
    }
}

/// Whether every `&…;` in `text` is one of XML's predefined entities or a character reference,
/// checked without unescaping (the `device` attribute of every record is full of `&lt;`).
fn only_predefined_entities(text: &str) -> bool {
    text.split('&').skip(1).all(|rest| {
        rest.split_once(';').is_some_and(|(name, _)| {
            matches!(name, "lt" | "gt" | "amp" | "apos" | "quot")
                || name.strip_prefix('#').is_some_and(|code| {
                    let code = code.strip_prefix('x').unwrap_or(code);
                    !code.is_empty() && code.bytes().all(|b| b.is_ascii_hexdigit())
                })
        })
    })
}

fn metric(kind: &str) -> Option<Metric> {
    Some(match kind {
        "HKQuantityTypeIdentifierStepCount" => Metric::Steps,
        "HKQuantityTypeIdentifierHeartRate" => Metric::HeartRate,
        "HKQuantityTypeIdentifierRestingHeartRate" => Metric::RestingHeartRate,
        "HKQuantityTypeIdentifierBodyMass" => Metric::BodyMass,
        "HKQuantityTypeIdentifierActiveEnergyBurned" => Metric::ActiveEnergy,
        "HKQuantityTypeIdentifierDietaryEnergyConsumed" => Metric::DietaryEnergy,
        "HKQuantityTypeIdentifierDietaryWater" => Metric::Water,
        _ => return None,
    })
}

const SLEEP: &str = "HKCategoryTypeIdentifierSleepAnalysis";
const BLOOD_PRESSURE: &str = "HKCorrelationTypeIdentifierBloodPressure";
const SYSTOLIC: &str = "HKQuantityTypeIdentifierBloodPressureSystolic";
const DIASTOLIC: &str = "HKQuantityTypeIdentifierBloodPressureDiastolic";

fn sleep_stage(value: &str) -> Option<SleepStage> {
    Some(
        match value.strip_prefix("HKCategoryValueSleepAnalysis").unwrap_or(value) {
            "Asleep" | "AsleepCore" | "AsleepDeep" | "AsleepREM" | "AsleepUnspecified" | "1" => SleepStage::Asleep,
            "InBed" | "0" => SleepStage::InBed,
            "Awake" | "2" => SleepStage::Awake,
            _ => return None,
        },
    )
}

/// A top-level `<Record>` as a sample.
fn record_sample(a: &Attributes) -> Option<Sample<'_>> {
    if let Some(metric) = metric(&a.kind) {
        let (value, start) = (a.number(), a.start);
        return Some(match (value, start) {
            (Some(value), Some(start)) => Sample::Quantity {
                metric,
                value,
                unit: &a.unit,
                start,
                end: a.end.unwrap_or(start),
                source: &a.source,
            },
            _ => Sample::Unreadable,
        });
    }
    match a.kind.as_str() {
        SLEEP => Some(match (sleep_stage(a.value.trim()), a.start, a.end) {
            (Some(stage), Some(start), Some(end)) => Sample::Sleep { stage, start, end },
            _ => Sample::Unreadable,
        }),
        // Also listed inside their correlation, where the pair is read.
        SYSTOLIC | DIASTOLIC => None,
        kind => Some(Sample::Skipped { kind }),
    }
}

/// A `<Correlation>` being read: its type, time, and the pressure records inside.
struct Correlation {
    blood_pressure: bool,
    kind: String,
    at: Option<i64>,
    systolic: Option<f64>,
    diastolic: Option<f64>,
}

impl Correlation {
    fn sample(&self) -> Sample<'_> {
        if !self.blood_pressure {
            return Sample::Skipped { kind: &self.kind };
        }
        match (self.systolic, self.diastolic, self.at) {
            (Some(systolic), Some(diastolic), Some(at)) => Sample::BloodPressure {
                systolic,
                diastolic,
                at,
            },
            _ => Sample::Unreadable,
        }
    }
}

/// Reads the whole export into `aggregator`. Refused when it is not one, holds an entity
/// declaration, or ends early: the caller writes nothing then.
pub fn read_export(input: &mut dyn BufRead, aggregator: &mut DayAggregator) -> Result<(), Refusal> {
    let mut reader = Reader::from_reader(EventBounded::new(input));
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::with_capacity(4096);
    let mut attributes = Attributes::default();
    let mut correlation: Option<Correlation> = None;
    let (mut depth, mut root_closed) = (0usize, false);
    loop {
        buf.clear();
        reader.get_mut().next_event();
        let event = reader.read_event_into(&mut buf).map_err(refusal)?;
        let (element, opens) = match event {
            Event::Start(element) => (element, true),
            Event::Empty(element) => (element, false),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1
                    && let Some(done) = correlation.take()
                {
                    aggregator.add(done.sample());
                }
                if depth == 0 {
                    root_closed = true;
                }
                continue;
            }
            Event::DocType(dtd) => {
                if dtd.contains("<!ENTITY") {
                    return Err(Refusal::Entities);
                }
                continue;
            }
            Event::GeneralRef(reference) => {
                let name: &str = &reference;
                if !(name.starts_with('#') || matches!(name, "lt" | "gt" | "amp" | "apos" | "quot")) {
                    return Err(Refusal::Entities);
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = element.local_name();
        match (depth, name.as_ref()) {
            (0, "HealthData") if !root_closed => {}
            (0, _) => return Err(Refusal::NotAnExport),
            (1, "Record") => {
                attributes.read(&element)?;
                if let Some(sample) = record_sample(&attributes) {
                    aggregator.add(sample);
                }
            }
            (1, "Correlation") => {
                attributes.read(&element)?;
                let pending = Correlation {
                    blood_pressure: attributes.kind == BLOOD_PRESSURE,
                    kind: attributes.kind.clone(),
                    at: attributes.start,
                    systolic: None,
                    diastolic: None,
                };
                if opens {
                    correlation = Some(pending);
                } else {
                    aggregator.add(pending.sample());
                }
            }
            (1, "Workout") => {
                attributes.read(&element)?;
                aggregator.add(match attributes.start {
                    Some(start) => Sample::Workout { start },
                    None => Sample::Unreadable,
                });
            }
            (1, "ExportDate" | "Me") => {}
            (1, other) => {
                aggregator.add(Sample::Skipped { kind: other });
            }
            (2, "Record") => {
                if let Some(pending) = correlation.as_mut().filter(|c| c.blood_pressure) {
                    attributes.read(&element)?;
                    let mmhg = attributes
                        .number()
                        .filter(|_| matches!(attributes.unit.as_str(), "mmHg" | ""));
                    match attributes.kind.as_str() {
                        SYSTOLIC => pending.systolic = mmhg,
                        DIASTOLIC => pending.diastolic = mmhg,
                        _ => {}
                    }
                }
            }
            // Metadata, workout statistics and events, routes: not mapped.
            _ => {}
        }
        if opens {
            depth += 1;
        }
    }
    if !root_closed {
        return Err(if aggregator.records_read() == 0 && depth == 0 {
            Refusal::NotAnExport
        } else {
            Refusal::Truncated
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
