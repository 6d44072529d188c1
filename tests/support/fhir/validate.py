"""Validates a FHIR export (`GET /export?format=fhir`) against FHIR R4 (4.0.1).

Usage: validate.py FILE  (run through scripts/fhir-validate, which provides the venv).

1. fhir.resources 6.1.0 (FHIR 4.0.1 models) parses the whole Bundle: every element's name, type,
   cardinality and primitive format (dates, ids, uris, decimals), unknown elements refused.
2. What those models leave out, checked here from the R4 specification: the required bindings the
   export uses (Bundle.type, Observation.status), Bundle rules bdl-7 (fullUrl unique) and
   every reference resolving to an entry's fullUrl, Observation rules obs-6/obs-7, and the export's
   own contract: one Patient first, LOINC codes, UCUM quantities, category from the HL7
   observation-category code system.
Prints a summary on success; exits 1 with the problems otherwise.
"""

import json
import re
import sys

import fhir.resources
import pydantic
from fhir.resources.bundle import Bundle

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
BUNDLE_TYPES = {"document", "message", "transaction", "transaction-response", "batch",
                "batch-response", "history", "searchset", "collection"}
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                      "entered-in-error", "unknown"}
CATEGORIES = {"social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey",
              "exam", "therapy", "activity"}
# The export's codes and the UCUM unit each is written in.
CODES = {
    "41950-7": "/d", "8867-4": "/min", "40443-4": "/min", "29463-7": "kg", "93832-4": "h",
    "9052-2": "kcal", "41979-6": "kcal/d", "8480-6": "mm[Hg]", "8462-4": "mm[Hg]",
    "85354-9": None,
}
URN_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def main(path):
    if fhir.resources.__fhir_version__ != "4.0.1":
        sys.exit(f"fhir.resources models FHIR {fhir.resources.__fhir_version__}, not R4 (4.0.1)")
    with open(path, encoding="utf-8") as file:
        raw = json.load(file)
    try:
        Bundle.parse_obj(raw)
    except pydantic.ValidationError as error:
        sys.exit(f"not a FHIR R4 Bundle: {error}")

    problems = []
    if raw.get("type") not in BUNDLE_TYPES or raw.get("type") != "collection":
        problems.append(f"Bundle.type {raw.get('type')!r}")
    entries = raw.get("entry", [])
    urls = [e.get("fullUrl") for e in entries]
    if len(set(urls)) != len(urls):
        problems.append("bdl-7: fullUrl not unique")
    for url in urls:
        if not (isinstance(url, str) and URN_UUID.match(url)):
            problems.append(f"fullUrl {url!r} is not a urn:uuid")
    if not entries or entries[0]["resource"]["resourceType"] != "Patient":
        problems.append("the first entry is not the Patient")
    patients = [e for e in entries if e["resource"]["resourceType"] == "Patient"]
    if len(patients) != 1:
        problems.append(f"{len(patients)} Patients")
    if any("telecom" in p["resource"] for p in patients):
        problems.append("the Patient carries contact details")

    observations = [e["resource"] for e in entries if e["resource"]["resourceType"] == "Observation"]
    if len(observations) + len(patients) != len(entries):
        problems.append("a resource that is neither Patient nor Observation")
    for obs in observations:
        where = f"Observation/{obs.get('id')}"
        if obs.get("status") not in OBSERVATION_STATUS or obs.get("status") != "final":
            problems.append(f"{where}: status {obs.get('status')!r}")
        if obs.get("subject", {}).get("reference") not in urls:
            problems.append(f"{where}: subject does not resolve inside the Bundle")
        if not DATE.match(obs.get("effectiveDateTime", "")):
            problems.append(f"{where}: effectiveDateTime is not the day")
        categories = [c for cat in obs.get("category", []) for c in cat.get("coding", [])]
        if not categories or any(c.get("system") != CATEGORY or c.get("code") not in CATEGORIES
                                 for c in categories):
            problems.append(f"{where}: category {categories}")
        codings = obs["code"].get("coding", [])
        if len(codings) != 1 or codings[0].get("system") != LOINC or codings[0].get("code") not in CODES:
            problems.append(f"{where}: code {codings}")
            continue
        code = codings[0]["code"]
        components = obs.get("component", [])
        # obs-6: dataAbsentReason only without a value; obs-7: a component's code differs from the
        # Observation's when the Observation has a value.
        if "dataAbsentReason" in obs and "valueQuantity" in obs:
            problems.append(f"{where}: obs-6")
        if "valueQuantity" in obs and any(c["code"] == obs["code"] for c in components):
            problems.append(f"{where}: obs-7")
        quantities = [(code, obs.get("valueQuantity"))] if CODES[code] else [
            (c["code"]["coding"][0]["code"], c.get("valueQuantity")) for c in components
        ]
        if not quantities:
            problems.append(f"{where}: no value")
        for part, quantity in quantities:
            if not quantity or quantity.get("system") != UCUM or quantity.get("code") != CODES.get(part):
                problems.append(f"{where}: {part} quantity {quantity}")

    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"valid FHIR R4 Bundle: 1 Patient, {len(observations)} Observations")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
