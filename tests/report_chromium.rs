//! Renders the quickstart's report.html in headless Chromium (Debian package `chromium`)
//! with every host name unresolvable, takes a screenshot, and checks that the page is not
//! blank and that the page itself requested nothing over the network (Chromium's net log).
//! Without Chromium the test fails under CI (env CI set) and is skipped elsewhere, saying
//! which package to install.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-pings",
        // Nothing can leave the machine: every host name fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--hide-scrollbars",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Decodes an RGB(A) PNG: (width, height, channels, pixels).
fn decode(path: &Path) -> (u32, u32, usize, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type.samples(), buf)
}

#[test]
fn report_html_renders_offline_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        let msg = "chromium not found: install the Debian package `chromium` \
                   (apt-get install -y chromium) to render report.html";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        // Straight to stderr, past the test harness's capture, so the skip is seen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED report_html_renders_offline_in_headless_chromium: {msg}"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml"))
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = tmp.path().join("quickstart/report.html");
    let url = format!("file://{}", html.display());

    // The screenshot, with a net log of everything Chromium requested meanwhile.
    let shot = tmp.path().join("shot.png");
    let netlog = tmp.path().join("netlog.json");
    let o = headless(&chromium, &tmp.path().join("profile-shot"))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--net-log-capture-mode=Everything")
        .arg("--window-size=1000,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        o.status.success() && shot.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    if let Ok(dir) = std::env::var("PUSHPULL_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, Path::new(&dir).join("report-screenshot.png")).unwrap();
    }

    // Not blank: plenty of non-white pixels and many colours (text, tables, charts).
    let (w, h, ch, px) = decode(&shot);
    assert!(w >= 900 && h >= 2000, "screenshot is {w}×{h}");
    let pixels: Vec<&[u8]> = px.chunks(ch).collect();
    let inked = pixels
        .iter()
        .filter(|p| p[..3].iter().any(|&v| v < 200))
        .count();
    let share = inked as f64 / pixels.len() as f64;
    assert!(
        share > 0.03,
        "only {:.2}% of the page is inked",
        share * 100.0
    );
    let colours: std::collections::BTreeSet<[u8; 3]> =
        pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    assert!(colours.len() > 200, "only {} colours", colours.len());

    // The page made no request: every request in the net log was started by the browser
    // itself (its update and account services, which the resolver rule blocks), none by
    // a page, and none for anything the report names.
    let log: Value = serde_json::from_slice(&std::fs::read(&netlog).unwrap())
        .expect("chromium wrote a complete net log");
    let types = log["constants"]["logEventTypes"].as_object().unwrap();
    let start_job = types["URL_REQUEST_START_JOB"].as_u64().unwrap();
    let mut requests = 0;
    for e in log["events"].as_array().unwrap() {
        let p = &e["params"];
        if e["type"].as_u64() == Some(start_job) && p["url"].is_string() {
            requests += 1;
            let url = p["url"].as_str().unwrap();
            assert_eq!(
                p["initiator"].as_str(),
                Some("not an origin"),
                "the page requested {url}"
            );
            assert!(
                !url.starts_with("file:") && !url.contains("quickstart"),
                "the page requested {url}"
            );
        }
    }
    eprintln!("net log: {requests} browser-internal request(s), none from the page");

    // The DOM Chromium built holds the report's sections and inline charts.
    let o = headless(&chromium, &tmp.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "Decision card",
        "Executive summary",
        "DORA view",
        "Thresholds",
        "Methodology",
        "Reproducibility",
    ] {
        assert!(dom.contains(needle), "rendered DOM lacks {needle}");
    }
    assert_eq!(dom.matches("src=\"data:image/png;base64,").count(), 9);
}
