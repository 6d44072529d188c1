"""`POST /api/import/apple-health` under load: a generated Apple Health export of ~300 MB (as the
Health app writes it: the DTD, `Me`, records of phone and watch with `MetadataEntry` children, sleep
stages, blood-pressure correlations, workouts with statistics and events), sent as export.xml and
as export.zip to a release server of its own. Measures the server's peak RSS above idle (sampled
every 50 ms; target ≤ 64 MB) and the throughput (MB of upload per second, upload to answer).

    scripts/bench --only apple-health [--apple-health-mb 300]
"""

import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import tempfile
import threading
import time
import zipfile
from datetime import date, timedelta

RSS_ABOVE_IDLE_LIMIT_MB = 64
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "apple-health", "export.xml")

PHONE = ('sourceName="Jane’s iPhone" sourceVersion="17.5" device="&lt;&lt;HKDevice: 0x2836b0e60&gt;, name:iPhone, '
         'manufacturer:Apple Inc., model:iPhone, hardware:iPhone15,2, software:17.5&gt;"')
WATCH = ('sourceName="Jane’s Apple Watch" sourceVersion="10.5" device="&lt;&lt;HKDevice: 0x2836b1040&gt;, name:Apple Watch, '
         'manufacturer:Apple Inc., model:Watch, hardware:Watch6,14, software:10.5&gt;"')


def stamp(day, minute):
    return f"{day.isoformat()} {minute // 60:02d}:{minute % 60:02d}:00 -0700"


def record(kind, source, unit, day, start, end, value, children=""):
    unit_attr = f' unit="{unit}"' if unit else ""
    head = (f' <Record type="{kind}" {source}{unit_attr} creationDate="{stamp(day, end)}" '
            f'startDate="{stamp(day, start)}" endDate="{stamp(day, end)}" value="{value}"')
    return head + (f">\n{children} </Record>\n" if children else "/>\n")


def one_day(day, rng):
    out = []
    for minute in range(6 * 60, 23 * 60, 10):
        out.append(record("HKQuantityTypeIdentifierStepCount", PHONE, "count", day, minute, minute + 8, rng.randint(0, 400)))
        out.append(record("HKQuantityTypeIdentifierStepCount", WATCH, "count", day, minute, minute + 8, rng.randint(0, 450)))
        out.append(record("HKQuantityTypeIdentifierActiveEnergyBurned", WATCH, "kcal", day, minute, minute + 9,
                          f"{rng.uniform(0, 15):.3f}"))
        out.append(record("HKQuantityTypeIdentifierFlightsClimbed", PHONE, "count", day, minute, minute + 5, rng.randint(0, 3)))
    for minute in range(0, 24 * 60, 5):
        meta = f'  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="{rng.randint(0, 2)}"/>\n'
        out.append(record("HKQuantityTypeIdentifierHeartRate", WATCH, "count/min", day, minute, minute,
                          rng.randint(52, 140), meta))
    for n, stage in enumerate(["AsleepCore", "AsleepDeep", "AsleepCore", "AsleepREM", "Awake", "AsleepCore", "AsleepREM"] * 3):
        start = 20 + n * 20
        out.append(record("HKCategoryTypeIdentifierSleepAnalysis", WATCH, "", day, start, start + 19,
                          f"HKCategoryValueSleepAnalysis{stage}"))
    out.append(record("HKCategoryTypeIdentifierSleepAnalysis", PHONE, "", day, 0, 7 * 60, "HKCategoryValueSleepAnalysisInBed"))
    out.append(record("HKQuantityTypeIdentifierRestingHeartRate", WATCH, "count/min", day, 0, 20 * 60, rng.randint(50, 65)))
    out.append(record("HKQuantityTypeIdentifierBodyMass", 'sourceName="Withings" sourceVersion="6.3.1"', "lb", day, 420, 420,
                      f"{rng.uniform(150, 180):.1f}", '  <MetadataEntry key="HKWasUserEntered" value="0"/>\n'))
    for minute in (540, 720, 900, 1080):
        out.append(record("HKQuantityTypeIdentifierDietaryWater", 'sourceName="WaterMinder" sourceVersion="5.2"', "mL", day,
                          minute, minute, 250))
    for minute in (480, 780, 1140):
        out.append(record("HKQuantityTypeIdentifierDietaryEnergyConsumed", 'sourceName="MyFitnessPal" sourceVersion="24.1"',
                          "kJ", day, minute, minute, rng.randint(1500, 3500)))
    bp = 'sourceName="OMRON connect" sourceVersion="7.10"'
    sys_, dia = rng.randint(110, 135), rng.randint(70, 88)
    inner = (record("HKQuantityTypeIdentifierBloodPressureDiastolic", bp, "mmHg", day, 480, 480, dia)
             + record("HKQuantityTypeIdentifierBloodPressureSystolic", bp, "mmHg", day, 480, 480, sys_))
    out.append(inner)
    out.append(f' <Correlation type="HKCorrelationTypeIdentifierBloodPressure" {bp} creationDate="{stamp(day, 481)}" '
               f'startDate="{stamp(day, 480)}" endDate="{stamp(day, 480)}">\n'
               f'  <MetadataEntry key="HKWasUserEntered" value="0"/>\n{inner} </Correlation>\n')
    if day.toordinal() % 2 == 0:
        out.append(f' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="32.5" durationUnit="min" {WATCH} '
                   f'creationDate="{stamp(day, 1055)}" startDate="{stamp(day, 1020)}" endDate="{stamp(day, 1052)}">\n'
                   f'  <MetadataEntry key="HKIndoorWorkout" value="0"/>\n'
                   f'  <WorkoutEvent type="HKWorkoutEventTypeSegment" date="{stamp(day, 1020)}" duration="8.1" durationUnit="min"/>\n'
                   f'  <WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" startDate="{stamp(day, 1020)}" '
                   f'endDate="{stamp(day, 1052)}" sum="310.2" unit="kcal"/>\n </Workout>\n')
    out.append(f' <ActivitySummary dateComponents="{day.isoformat()}" activeEnergyBurned="510.2" activeEnergyBurnedGoal="500" '
               f'activeEnergyBurnedUnit="Cal" appleExerciseTime="41" appleStandHours="11"/>\n')
    return "".join(out)


def generate(directory, megabytes):
    """export.xml of about `megabytes` MB and export.zip holding it, kept between runs."""
    os.makedirs(directory, exist_ok=True)
    xml_path = os.path.join(directory, f"export-{megabytes}mb.xml")
    zip_path = os.path.join(directory, f"export-{megabytes}mb.zip")
    if not os.path.exists(xml_path):
        with open(FIXTURE, encoding="utf-8") as fixture:
            head = fixture.read().split("<HealthData", 1)[0]
        rng = random.Random(7)
        target = megabytes * 1_000_000
        day = date(2016, 1, 1)
        with open(xml_path + ".part", "w", encoding="utf-8") as out:
            out.write(head)
            out.write('<HealthData locale="en_US">\n <ExportDate value="2026-01-01 08:00:00 -0700"/>\n')
            out.write(' <Me HKCharacteristicTypeIdentifierDateOfBirth="1990-04-12" HKCharacteristicTypeIdentifierBiologicalSex='
                      '"HKBiologicalSexFemale" HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" '
                      'HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" '
                      'HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>\n')
            while out.tell() < target:
                out.write(one_day(day, rng))
                day += timedelta(days=1)
            out.write("</HealthData>\n")
        os.replace(xml_path + ".part", xml_path)
    if not os.path.exists(zip_path):
        with zipfile.ZipFile(zip_path + ".part", "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            archive.write(xml_path, "apple_health_export/export.xml")
        os.replace(zip_path + ".part", zip_path)
    return xml_path, zip_path


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def post_file(port, token, path, content_type):
    size = os.path.getsize(path)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    with open(path, "rb") as body:
        connection.request("POST", "/api/import/apple-health?onConflict=replace", body=body, headers={
            "Content-Type": content_type, "Content-Length": str(size), "Authorization": "Bearer " + token})
        response = connection.getresponse()
        payload = response.read()
    connection.close()
    return response.status, json.loads(payload)


def measure(start_server, wait_until_up, register, free_port, log, out_dir, megabytes=300, run_number=1):
    """One server; each file imported into an account of its own. Returns the figures per file."""
    xml_path, zip_path = generate(os.path.join(out_dir, "apple-health"), megabytes)
    workdir = tempfile.mkdtemp(prefix="healthtracker-bench-apple-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(workdir, port, secrets.token_hex(32), extra_env={"REQUEST_TIMEOUT_SECS": "900"})
    results = {}
    try:
        wait_until_up(base + "/api/health/live", process, seconds=120)
        for name, path, content_type in (("xml", xml_path, "application/xml"), ("zip", zip_path, "application/zip")):
            _, token = register(base, f"apple-{name}")
            time.sleep(0.5)
            idle_kb = vm_rss_kb(process.pid)
            peak = {"kb": idle_kb}
            done = threading.Event()

            def sample():
                while not done.is_set():
                    try:
                        peak["kb"] = max(peak["kb"], vm_rss_kb(process.pid))
                    except OSError:
                        return
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            status, answer = post_file(port, token, path, content_type)
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            if status != 200:
                raise SystemExit(f"apple-health import of {name} failed: {status} {answer}")
            size = os.path.getsize(path)
            xml_size = os.path.getsize(xml_path)
            above = (peak["kb"] - idle_kb) / 1024
            results[name] = {"bytes": size, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
                             "xml_mb_per_s": xml_size / 1e6 / seconds,
                             "idle_rss_mb": idle_kb / 1024, "peak_rss_mb": peak["kb"] / 1024,
                             "rss_above_idle_mb": above, "records_read": answer["recordsRead"],
                             "days": answer["created"], "met": above <= RSS_ABOVE_IDLE_LIMIT_MB}
            log(f"  run {run_number} apple-health {name}: {size / 1e6:.0f} MB, {answer['recordsRead']:,} records, "
                f"{answer['created']:,} days in {seconds:.1f} s = {size / 1e6 / seconds:.1f} MB/s uploaded, "
                f"{xml_size / 1e6 / seconds:.1f} MB/s of XML; RSS idle "
                f"{idle_kb / 1024:.1f} MB, peak {peak['kb'] / 1024:.1f} MB, above idle {above:.1f} MB "
                f"(target ≤ {RSS_ABOVE_IDLE_LIMIT_MB}: {'met' if above <= RSS_ABOVE_IDLE_LIMIT_MB else 'NOT met'})")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    return results
