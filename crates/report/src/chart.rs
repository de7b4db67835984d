//! A report's charts: the data each one shows, and its drawing as SVG (plotters' SVG
//! backend), for the HTML page.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::render::time;

/// A named series of (x, value) points.
pub type Series<X> = (String, Vec<(X, f64)>);

/// A chart of a report.
#[derive(Debug, Clone)]
pub enum Chart {
    /// Lines over time: per series, (Unix ns, value) points in time order.
    TimeLines {
        /// Its title.
        title: String,
        /// What the values are.
        y_label: String,
        /// Named series.
        series: Vec<Series<i64>>,
    },
    /// Latency distributions: per series, (percentile 0–100, seconds), shown on a log scale.
    Quantiles {
        /// Its title.
        title: String,
        /// Named series.
        series: Vec<Series<f64>>,
    },
    /// Horizontal bars, one per label, in the order given.
    Bars {
        /// Its title.
        title: String,
        /// What the values are.
        x_label: String,
        /// (label, value).
        bars: Vec<(String, f64)>,
    },
}

/// Width of a chart, in pixels.
const WIDTH: u32 = 860;
/// At most this many bars are drawn (the first ones given).
const MAX_BARS: usize = 40;
/// Series with at most this many points get a mark on each.
const MARKED_POINTS: usize = 60;
/// At most this many series are drawn (the first ones given: the largest).
const MAX_SERIES: usize = 8;

impl Chart {
    /// Its title.
    pub fn title(&self) -> &str {
        match self {
            Chart::TimeLines { title, .. } | Chart::Quantiles { title, .. } | Chart::Bars { title, .. } => title,
        }
    }

    /// Whether it has nothing to draw.
    pub fn is_empty(&self) -> bool {
        match self {
            Chart::TimeLines { series, .. } => series.iter().all(|s| s.1.is_empty()),
            Chart::Quantiles { series, .. } => series.iter().all(|s| s.1.is_empty()),
            Chart::Bars { bars, .. } => bars.is_empty(),
        }
    }

    /// The chart as an SVG document (a short note instead when it has no data).
    pub fn svg(&self) -> String {
        let mut out = String::new();
        let height = match self {
            Chart::Bars { bars, .. } => 70 + 26 * u32::try_from(bars.len().clamp(1, MAX_BARS)).unwrap_or(u32::MAX),
            _ => 360,
        };
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
            // Drawing into a string cannot fail but for a chart with no room; then the note stays.
            let _ = self.draw(&root);
            let _ = root.present();
        }
        out
    }

    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        if self.is_empty() {
            root.draw(&Text::new("no data", (20, 30), ("sans-serif", 16)))?;
            return Ok(());
        }
        match self {
            Chart::TimeLines { title, y_label, series } => {
                let points = series.iter().flat_map(|s| s.1.iter());
                let (mut t0, mut t1, mut top) = (i64::MAX, i64::MIN, 0f64);
                for (t, v) in points {
                    t0 = t0.min(*t);
                    t1 = t1.max(*t);
                    top = top.max(*v);
                }
                let span = ((t1 - t0) as f64 / 60e9).max(1e-3);
                let mut c = ChartBuilder::on(root)
                    .caption(title, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(34)
                    .y_label_area_size(56)
                    .build_cartesian_2d(0f64..span, 0f64..(top * 1.1).max(1e-9))?;
                c.configure_mesh()
                    .x_desc("time (UTC)")
                    .y_desc(y_label.as_str())
                    .x_labels(8)
                    .x_label_formatter(&|m| {
                        let t = time(t0 + (m * 60e9) as i64);
                        t.get(11..16).unwrap_or("").to_owned()
                    })
                    .draw()?;
                for (k, (name, pts)) in series.iter().take(MAX_SERIES).enumerate() {
                    let color = Palette99::pick(k).to_rgba();
                    let xy = |(t, v): &(i64, f64)| ((t - t0) as f64 / 60e9, *v);
                    c.draw_series(LineSeries::new(pts.iter().map(xy), color.stroke_width(2)))?
                        .label(name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
                    // A mark on each point while they are few (a single window draws no line).
                    if pts.len() <= MARKED_POINTS {
                        c.draw_series(pts.iter().map(|p| Circle::new(xy(p), 3, color.filled())))?;
                    }
                }
                c.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
            }
            Chart::Quantiles { title, series } => {
                let values = series.iter().flat_map(|s| s.1.iter().map(|p| p.1)).filter(|v| *v > 0.0);
                let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
                let (lo, hi) = if hi <= 0.0 { (1e-3, 1.0) } else { (lo * 0.8, hi * 1.25) };
                let mut c = ChartBuilder::on(root)
                    .caption(title, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(34)
                    .y_label_area_size(64)
                    .build_cartesian_2d(0f64..100f64, (lo..hi).log_scale())?;
                c.configure_mesh()
                    .x_desc("percentile")
                    .y_desc("duration (s)")
                    .y_label_formatter(&|v| format!("{v:.3}"))
                    .draw()?;
                for (k, (name, pts)) in series.iter().take(MAX_SERIES).enumerate() {
                    let color = Palette99::pick(k).to_rgba();
                    c.draw_series(LineSeries::new(pts.iter().filter(|p| p.1 > 0.0).copied(), color.stroke_width(2)))?
                        .label(name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
                }
                c.configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .border_style(BLACK)
                    .background_style(WHITE.mix(0.8))
                    .draw()?;
            }
            Chart::Bars { title, x_label, bars } => {
                let bars = &bars[..bars.len().min(MAX_BARS)];
                let top = bars.iter().map(|b| b.1).fold(0f64, f64::max).max(1e-9);
                let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0);
                let label_area = u32::try_from(longest * 7 + 16).unwrap_or(u32::MAX).clamp(60, WIDTH / 2);
                let n = u32::try_from(bars.len()).unwrap_or(u32::MAX);
                let mut c = ChartBuilder::on(root)
                    .caption(title, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(34)
                    .y_label_area_size(label_area)
                    .build_cartesian_2d(0f64..top * 1.1, (0u32..n.saturating_sub(1)).into_segmented())?;
                c.configure_mesh()
                    .disable_y_mesh()
                    .x_desc(x_label.as_str())
                    .y_labels(bars.len())
                    .y_label_formatter(&|v| match v {
                        SegmentValue::CenterOf(i) if *i < n => {
                            bars.get((n - 1 - *i) as usize).map(|b| truncate(&b.0, 60)).unwrap_or_default()
                        }
                        _ => String::new(),
                    })
                    .draw()?;
                let fill = Palette99::pick(0).to_rgba().filled();
                // The first bar on top.
                c.draw_series(bars.iter().zip((0..n).rev()).map(|((_, v), i)| {
                    let mut r = Rectangle::new([(0.0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))], fill);
                    r.set_margin(3, 3, 0, 0);
                    r
                }))?;
            }
        }
        Ok(())
    }
}

/// `s` cut to `n` characters, with an ellipsis when cut.
fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n - 1).chain(['…']).collect() }
}
