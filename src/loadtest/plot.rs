//! `loadtest --plot FILE`: a picture of a run's report, as SVG or PNG (by the file's
//! extension). Two charts stacked: edit-to-peer p99 and edits acked per second over
//! the run, and the whole edit-to-peer distribution on the HDR "nines" scale.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (assets/fonts/), so no
//! system font is looked up at run time.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::register_font;

use super::report::Report;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// Registered under the family plotters uses by default, so every label finds it.
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1000, 800);
/// Right edge of the distribution chart at least at this many nines (99%).
const MIN_NINES: f64 = 2.0;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("--plot {}: unknown image format (the file must end in .svg or .png)", .0.display())]
    Format(PathBuf),
    #[error("the embedded plot font could not be loaded")]
    Font,
    #[error("drawing {}: {message}", path.display())]
    Draw { path: PathBuf, message: String },
}

#[derive(Clone, Copy)]
enum Format {
    Svg,
    Png,
}

fn format(path: &Path) -> Result<Format, PlotError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "svg" => Ok(Format::Svg),
        "png" => Ok(Format::Png),
        _ => Err(PlotError::Format(path.to_owned())),
    }
}

/// Whether `path` names an image format `write` can produce (checked before a run).
pub fn check_path(path: &Path) -> Result<(), PlotError> {
    format(path).map(|_| ())
}

fn register() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Draws the report's plot into `path` (SVG or PNG, by extension).
pub fn write(report: &Report, path: &Path) -> Result<(), PlotError> {
    let format = format(path)?;
    register()?;
    let drawn = match format {
        Format::Svg => draw(SVGBackend::new(path, SIZE).into_drawing_area(), report),
        Format::Png => draw(BitMapBackend::new(path, SIZE).into_drawing_area(), report),
    };
    drawn.map_err(|message| PlotError::Draw {
        path: path.to_owned(),
        message,
    })
}

/// The run's shape and headline latencies.
fn title(r: &Report) -> String {
    format!(
        "{} rooms × {} clients ({} typing at {}/s each, {:.0} s): edit-to-peer p50 {:.2} ms, p99 {:.2} ms",
        r.rooms,
        r.clients_per_room,
        r.typists_per_room,
        r.rate_per_typist,
        r.duration_secs,
        r.edit_to_peer_ms.p50,
        r.edit_to_peer_ms.p99
    )
}

/// The HDR "nines" of a percentile: 90% → 1, 99% → 2, 99.9% → 3.
fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

/// The percentile at `x` nines, as a tick label: 0%, 50%, 90%, 99%, 99.9%, …
fn nines_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let decimals = (x.ceil() as i64 - 2).max(0) as usize;
    format!("{p:.decimals$}%")
}

/// The distribution's x axis: linear in nines, ticks only where given (0%, 50%,
/// 90%, 99%, …) rather than at round numbers of nines.
struct NinesAxis {
    nines: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for NinesAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.nines.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // The ticks are the bold lines; no light lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.nines.range()
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &Report) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(&title(r), (FAMILY, 20)).map_err(e)?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2 - 20);

    // Top: p99 (left axis) and edits acked (right axis) per second.
    let last_t = r.timeline.last().map_or(1, |s| s.t.max(1));
    let max_p99 = r.timeline.iter().map(|s| s.edit_to_peer_p99_ms);
    let max_p99 = max_p99.fold(0.0, f64::max).max(1.0) * 1.1;
    let max_acked = r.timeline.iter().map(|s| s.edits_acked).max().unwrap_or(0);
    let max_acked = (max_acked.max(1) as f64 * 1.1).ceil() as u64;
    let mut chart = ChartBuilder::on(&top)
        .caption("Over the run", (FAMILY, 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0..last_t, 0.0..max_p99)
        .map_err(e)?
        .set_secondary_coord(0..last_t, 0..max_acked);
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("edit-to-peer p99 (ms)")
        .draw()
        .map_err(e)?;
    chart
        .configure_secondary_axes()
        .y_desc("edits acked / s")
        .draw()
        .map_err(e)?;
    let acked = r.timeline.iter().map(|s| (s.t, s.edits_acked));
    chart
        .draw_secondary_series(LineSeries::new(acked, BLUE.mix(0.5).stroke_width(1)))
        .map_err(e)?
        .label("edits acked / s (right)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.mix(0.5)));
    // Seconds without any edit-to-peer sample have no p99; leave them out.
    let p99 = r.timeline.iter().filter(|s| s.edit_to_peer_p99_ms > 0.0);
    let p99 = p99.map(|s| (s.t, s.edit_to_peer_p99_ms));
    chart
        .draw_series(LineSeries::new(p99, RED.stroke_width(2)))
        .map_err(e)?
        .label("edit-to-peer p99 (left)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FAMILY, 13))
        .draw()
        .map_err(e)?;

    // Bottom: the distribution; 100% (the max) sits on the right edge.
    let finite = r
        .edit_to_peer_distribution
        .iter()
        .filter(|p| p.percentile < 100.0);
    let max_nines = finite
        .map(|p| nines(p.percentile))
        .fold(MIN_NINES, f64::max);
    let max_nines = max_nines.ceil();
    let dist = r.edit_to_peer_distribution.iter();
    let dist: Vec<(f64, f64)> = dist
        .map(|p| (nines(p.percentile).min(max_nines), p.ms))
        .collect();
    let max_ms = dist.iter().map(|d| d.1).fold(0.0, f64::max).max(1.0) * 1.1;
    let mut ticks = vec![0.0, nines(50.0)];
    ticks.extend((1..=max_nines as u32).map(f64::from));
    let x = NinesAxis {
        nines: (0.0..max_nines).into(),
        ticks,
    };
    let mut chart = ChartBuilder::on(&bottom)
        .caption("Edit-to-peer distribution", (FAMILY, 16))
        .margin(10)
        // Lined up with the chart above, which has an axis on the right.
        .margin_right(70)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(x, 0.0..max_ms)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("edit-to-peer (ms)")
        .x_label_formatter(&nines_label)
        .draw()
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(dist, RED.stroke_width(2)))
        .map_err(e)?;
    root.present().map_err(e)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::loadtest::report::{Percentile, Quantiles};
    use crate::loadtest::stats::Second;

    fn report() -> Report {
        let q = |p50: f64, p99: f64| Quantiles {
            count: 12_000,
            p50,
            p90: p50 * 2.0,
            p99,
            p999: p99 * 2.0,
            max: p99 * 4.0,
            mean: p50 * 1.2,
        };
        let timeline = (0..20)
            .map(|t| Second {
                t,
                edits_acked: if t < 3 { t * 40 } else { 100 + t % 5 },
                edit_to_peer_p99_ms: if t == 0 { 0.0 } else { 4.0 + (t % 7) as f64 },
            })
            .collect();
        // Log-spaced like `report::distribution`: 50, 75, 87.5, … then the max at 100.
        let mut distribution: Vec<Percentile> = (1..14)
            .map(|i| Percentile {
                percentile: 100.0 * (1.0 - 0.5f64.powi(i)),
                ms: 1.5 + i as f64 * 0.8,
            })
            .collect();
        distribution.push(Percentile {
            percentile: 100.0,
            ms: 31.0,
        });
        Report {
            urls: vec!["ws://127.0.0.1:8080/ws".into()],
            rooms: 10,
            clients_per_room: 10,
            typists_per_room: 2,
            rate_per_typist: 5.0,
            trace: None,
            duration_secs: 20.0,
            elapsed_secs: 25.0,
            connections_requested: 100,
            connections: 100,
            connect_failures: 0,
            connect_retries: 0,
            edits_sent: 2_000,
            edits_acked: 2_000,
            edits_per_sec: 80.0,
            pushes_received: 18_000,
            cursors_sent: 500,
            presence_received: 4_000,
            chats_sent: 10,
            chats_acked: 10,
            chats_received: 90,
            frames_in: 20_000,
            frames_out: 2_100,
            bytes_in: 2_000_000,
            bytes_out: 200_000,
            edit_to_peer_ms: q(2.1, 9.8),
            edit_to_peer_distribution: distribution,
            ack_ms: q(1.0, 4.0),
            connect_ms: q(3.0, 12.0),
            errors: BTreeMap::new(),
            errors_total: 0,
            disconnects: 0,
            disconnect_reasons: Default::default(),
            reconnects: 0,
            resyncs: 0,
            slow_readers: 0,
            reconnect_storm_secs: None,
            converged: true,
            divergent_clients: 0,
            unchecked_rooms: 0,
            timeline,
            failures: Vec::new(),
        }
    }

    #[test]
    fn writes_svg_with_title() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.svg");
        write(&report(), &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(100)]);
        assert!(svg.contains("10 rooms × 10 clients"));
        assert!(svg.contains("p99 9.80 ms"));
        assert!(svg.contains("99.9%"));
    }

    #[test]
    fn writes_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.PNG");
        write(&report(), &path).unwrap();
        let png = std::fs::read(&path).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.len() > 1000, "{} bytes", png.len());
    }

    #[test]
    fn empty_report_still_plots() {
        let mut r = report();
        r.timeline.clear();
        r.edit_to_peer_distribution.clear();
        let dir = tempfile::tempdir().unwrap();
        write(&r, &dir.path().join("empty.svg")).unwrap();
        write(&r, &dir.path().join("empty.png")).unwrap();
    }

    #[test]
    fn other_extensions_are_refused() {
        for name in ["run.txt", "run", "run.jpg"] {
            let err = check_path(Path::new(name)).unwrap_err();
            assert!(err.to_string().contains(".svg or .png"), "{err}");
            assert!(write(&report(), Path::new(name)).is_err());
        }
        check_path(Path::new("out/run.svg")).unwrap();
        check_path(Path::new("run.png")).unwrap();
    }

    #[test]
    fn nines_ticks() {
        assert_eq!(nines_label(&0.0), "0%");
        assert_eq!(nines_label(&nines(50.0)), "50%");
        assert_eq!(nines_label(&1.0), "90%");
        assert_eq!(nines_label(&2.0), "99%");
        assert_eq!(nines_label(&3.0), "99.9%");
        assert_eq!(nines_label(&4.0), "99.99%");
    }
}
