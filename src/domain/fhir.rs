//! The export as a FHIR R4 `Bundle` (type `collection`): one `Patient` (the user: name and id, no
//! e-mail) and one `Observation` per recorded value per day, LOINC-coded, with UCUM units.
//!
//! Written in pieces so the HTTP layer can stream it page by page: [`bundle_head`] (the Bundle's
//! opening and the Patient entry), [`observation_entries`] for each stored entry document, and
//! [`BUNDLE_TAIL`]. Every entry's `fullUrl` is a `urn:uuid:` derived from the ids (the same export
//! gives the same URLs), and each Observation's `subject` names the Patient's `fullUrl`, so every
//! reference resolves inside the Bundle.
//!
//! The codes, and where HL7 material uses each (checked for this table; see README "FHIR"):
//! - steps 41950-7 "Number of steps in 24 hour Measured", `/d` (HL7 Finland PHR IG, Steps Taken)
//! - heart rate 8867-4, `/min`; resting heart rate 40443-4, `/min`; body weight 29463-7, `kg`;
//!   blood pressure panel 85354-9 with 8480-6 / 8462-4, `mm[Hg]` (FHIR R4 vital signs value set,
//!   `observation-vitalsign-heartrate`; US Physical Activity IG example for 40443-4)
//! - sleep 93832-4 "Sleep duration", `h` (HL7 Personal Health Record IG, pcd-sleep-observation-code)
//! - calories (eaten) 9052-2 "Calorie intake total", `kcal` (Finnish PHR IG, Calorie Intake)
//! - active energy 41979-6 "Calories burned in 24 hour Calculated", `kcal/d` (HL7 US Physical
//!   Activity IG, Calories per Day)
//! - water intake: left out — it is kept in the client's unit (glasses), which no LOINC code and no
//!   UCUM unit says.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::day::Day;
use super::entry::rules::{self, Measure, Unrecorded};

const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// The end of the Bundle: closes `entry` and the Bundle.
pub const BUNDLE_TAIL: &str = "]}";

/// An HL7 observation category (`observation-category` code system).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    VitalSigns,
    Activity,
    /// Diet is part of the "personal (e.g. lifestyle)" history the code stands for.
    SocialHistory,
}

impl Category {
    fn coding(self) -> Value {
        let (code, display) = match self {
            Category::VitalSigns => ("vital-signs", "Vital Signs"),
            Category::Activity => ("activity", "Activity"),
            Category::SocialHistory => ("social-history", "Social History"),
        };
        json!([{"coding": [{"system": CATEGORY, "code": code, "display": display}]}])
    }
}

/// A LOINC code with its display, and the UCUM unit of its value.
#[derive(Clone, Copy, Debug)]
pub struct Coded {
    pub loinc: &'static str,
    pub display: &'static str,
    pub unit: &'static str,
    /// How the unit reads (`valueQuantity.unit`).
    pub unit_text: &'static str,
}

/// How a measure is written as an Observation; `None` for one that no checked code fits.
pub fn coding_of(measure: Measure) -> Option<(Coded, Category)> {
    let coded = |loinc, display, unit, unit_text| Coded {
        loinc,
        display,
        unit,
        unit_text,
    };
    Some(match measure {
        Measure::Steps => (
            coded("41950-7", "Number of steps in 24 hour Measured", "/d", "steps/day"),
            Category::Activity,
        ),
        Measure::HeartRate => (
            coded("8867-4", "Heart rate", "/min", "beats/minute"),
            Category::VitalSigns,
        ),
        Measure::RestingHeartRate => (
            coded("40443-4", "Heart rate --resting", "/min", "beats/minute"),
            Category::VitalSigns,
        ),
        Measure::Weight => (coded("29463-7", "Body weight", "kg", "kg"), Category::VitalSigns),
        Measure::Sleep => (coded("93832-4", "Sleep duration", "h", "h"), Category::Activity),
        Measure::Calories => (
            coded("9052-2", "Calorie intake total", "kcal", "kcal"),
            Category::SocialHistory,
        ),
        Measure::ActiveEnergy => (
            coded("41979-6", "Calories burned in 24 hour Calculated", "kcal/d", "kcal/day"),
            Category::Activity,
        ),
        Measure::Systolic => (
            coded("8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg"),
            Category::VitalSigns,
        ),
        Measure::Diastolic => (
            coded("8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg"),
            Category::VitalSigns,
        ),
        Measure::WaterIntake => return None,
    })
}

const BLOOD_PRESSURE_PANEL: (&str, &str) = ("85354-9", "Blood pressure panel with all children optional");

/// A `urn:uuid:` made from a name: SHA-256's first 16 bytes with the RFC 9562 version 8 (custom)
/// and variant bits, so the same account exports the same URLs.
pub fn urn_uuid(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The Patient's `fullUrl`, which every Observation's `subject` references: computed once per export.
pub fn patient_url(user_id: &str) -> String {
    urn_uuid(&format!("healthtracker:patient:{user_id}"))
}

/// The Bundle up to and including the Patient entry (the entries that follow start with a comma).
/// `timestamp` is the export's instant (RFC 3339).
pub fn bundle_head(user_id: &str, name: &str, timestamp: &str) -> String {
    let patient = json!({
        "fullUrl": patient_url(user_id),
        "resource": {
            "resourceType": "Patient",
            "id": user_id,
            "identifier": [{"system": "urn:healthtracker:user", "value": user_id}],
            "name": [{"text": name}],
        },
    });
    let head = json!({
        "resourceType": "Bundle",
        "id": urn_uuid(&format!("healthtracker:export:{user_id}:{timestamp}"))
            .trim_start_matches("urn:uuid:"),
        "type": "collection",
        "timestamp": timestamp,
    });
    // `{…}` without its closing brace, then the entry list opened with the Patient.
    let head = head.to_string();
    let open = head.strip_suffix('}').unwrap_or(&head);
    format!(r#"{open},"entry":[{patient}"#)
}

/// A number as FHIR's `decimal` wants it: integers without a fraction.
fn decimal(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        // Checked integral and in range above.
        #[allow(clippy::cast_possible_truncation)]
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

fn quantity(value: f64, coded: &Coded) -> Value {
    json!({"value": decimal(value), "unit": coded.unit_text, "system": UCUM, "code": coded.unit})
}

fn code(loinc: &str, display: &str) -> Value {
    json!({"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display})
}

/// The value an entry document recorded for a measure: a number that is not the "nobody recorded
/// it" 0 of the measures the old backend defaulted to 0, nor `null`.
fn recorded(document: &Map<String, Value>, measure: Measure) -> Option<f64> {
    let spec = measure.spec();
    let value = match spec.parent {
        Some(parent) => document.get(parent)?.get(spec.name)?,
        None => document.get(spec.name)?,
    };
    let zero_is_unrecorded = spec.parent.is_none() && spec.unrecorded == Unrecorded::Zero;
    value
        .as_f64()
        .filter(|v| v.is_finite() && !(zero_is_unrecorded && *v == 0.0))
}

/// The Observation entries of one stored entry document, each written with a leading comma;
/// `patient` is [`patient_url`] of the export's user.
pub fn observation_entries(patient: &str, day: Day, document: &str) -> Result<String, serde_json::Error> {
    let document: Map<String, Value> = serde_json::from_str(document)?;
    let entry_id = document.get("_id").and_then(Value::as_str).unwrap_or_default();
    let subject = json!({"reference": patient});
    let effective = day.to_ymd();
    let observation = |slug: &str, category: Category, code: Value| {
        let id = format!("{entry_id}-{slug}");
        let url = urn_uuid(&format!("healthtracker:observation:{id}"));
        let mut resource = Map::new();
        resource.insert("resourceType".into(), "Observation".into());
        resource.insert("id".into(), id.into());
        resource.insert("status".into(), "final".into());
        resource.insert("category".into(), category.coding());
        resource.insert("code".into(), code);
        resource.insert("subject".into(), subject.clone());
        resource.insert("effectiveDateTime".into(), effective.clone().into());
        (url, resource)
    };
    let mut out = String::new();
    let mut push = |url: String, resource: Map<String, Value>| {
        out.push(',');
        out.push_str(&json!({"fullUrl": url, "resource": resource}).to_string());
    };
    for measure in Measure::all().filter(|m| m.spec().parent.is_none()) {
        let (Some(value), Some((coded, category))) = (recorded(&document, measure), coding_of(measure)) else {
            continue;
        };
        let (url, mut resource) = observation(measure.name(), category, code(coded.loinc, coded.display));
        resource.insert("valueQuantity".into(), quantity(value, &coded));
        push(url, resource);
    }
    if let (Some(systolic), Some(diastolic)) = (
        recorded(&document, Measure::Systolic),
        recorded(&document, Measure::Diastolic),
    ) {
        let (panel, display) = BLOOD_PRESSURE_PANEL;
        let (url, mut resource) = observation(rules::BLOOD_PRESSURE, Category::VitalSigns, code(panel, display));
        let component = |measure: Measure, value: f64| {
            coding_of(measure).map(|(coded, _)| {
                json!({"code": code(coded.loinc, coded.display), "valueQuantity": quantity(value, &coded)})
            })
        };
        let components: Vec<Value> = [
            component(Measure::Systolic, systolic),
            component(Measure::Diastolic, diastolic),
        ]
        .into_iter()
        .flatten()
        .collect();
        resource.insert("component".into(), components.into());
        push(url, resource);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_uuids_are_stable_and_well_formed() {
        let a = urn_uuid("x");
        assert_eq!(a, urn_uuid("x"));
        assert_ne!(a, urn_uuid("y"));
        let hex = a.strip_prefix("urn:uuid:").expect("a urn:uuid");
        let groups: Vec<usize> = hex.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(
            hex.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(&hex[14..15], "8");
    }

    #[test]
    fn one_observation_per_recorded_value_and_none_for_unrecorded_ones() {
        let day = Day::parse_ymd("2026-11-03").expect("a day");
        let document = json!({
            "_id": "6745c0ffee0ddba11deadbee", "date": "2026-11-03T00:00:00.000Z",
            "calories": 2100, "sleep": 7.5, "heartRate": 0, "steps": 9876, "waterIntake": 2.5,
            "weight": null, "restingHeartRate": 58, "bloodPressure": {"systolic": 118, "diastolic": 76},
            "activeEnergy": 450
        });
        let text =
            observation_entries(&patient_url("6745c0ffee0ddba11deadbe0"), day, &document.to_string()).expect("entries");
        let entries: Vec<Value> =
            serde_json::from_str(&format!("[{}]", text.trim_start_matches(','))).expect("a JSON list");
        let codes: Vec<&str> = entries
            .iter()
            .filter_map(|e| e["resource"]["code"]["coding"][0]["code"].as_str())
            .collect();
        assert_eq!(codes, ["9052-2", "93832-4", "41950-7", "40443-4", "41979-6", "85354-9"]);
        let steps = &entries[2]["resource"];
        assert_eq!(steps["valueQuantity"]["value"], 9876);
        assert_eq!(steps["valueQuantity"]["code"], "/d");
        assert_eq!(steps["effectiveDateTime"], "2026-11-03");
        assert_eq!(entries[1]["resource"]["valueQuantity"]["value"], 7.5);
        let bp = &entries[5]["resource"];
        assert_eq!(bp["component"][1]["valueQuantity"]["value"], 76);
        assert!(bp.get("valueQuantity").is_none());
    }

    #[test]
    fn the_head_opens_a_collection_with_the_patient() {
        let head = bundle_head("6745c0ffee0ddba11deadbe0", "Ada \"A\"", "2026-11-03T10:00:00.000Z");
        let bundle: Value = serde_json::from_str(&format!("{head}{BUNDLE_TAIL}")).expect("JSON");
        assert_eq!(bundle["type"], "collection");
        assert_eq!(bundle["entry"][0]["resource"]["name"][0]["text"], "Ada \"A\"");
        assert!(bundle.to_string().find('@').is_none());
    }
}
