//! Charts as SVG, drawn by plotters: one or more series over time, with
//! units on both axes, a line style and a marker shape per series (so they
//! read without colour), restarts marked on the time axis, and the numbers
//! as rows for the table under each chart.
//!
//! Invariant: a chart draws the values it is given and nothing else (no
//! smoothing, no interpolation across a gap: an absent value breaks the
//! line); a chart with no value at all is not drawn (`None`). Text in the
//! SVG is only this module's own labels and formatted numbers.

use std::time::{Duration, SystemTime};

use plotters::prelude::*;
use serde_json::{Value, json};

use super::format;

/// The SVG's size in pixels.
const SIZE: (u32, u32) = (760, 280);
/// One colour per series; the line style and marker differ too.
const PALETTE: [RGBColor; 4] = [
    RGBColor(0x1f, 0x5f, 0xa8),
    RGBColor(0xc0, 0x4a, 0x00),
    RGBColor(0x2e, 0x7d, 0x32),
    RGBColor(0x6a, 0x1b, 0x9a),
];

/// One named series: `(seconds since the epoch, value)` in time order.
#[derive(Clone, Debug)]
pub struct Series {
    /// Its name in the legend and the table's heading.
    pub name: &'static str,
    /// Its points; `None` where the answer had no value.
    pub points: Vec<(f64, Option<f64>)>,
}

/// A chart's content.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The heading.
    pub title: &'static str,
    /// The y axis' unit, e.g. `tokens/s`.
    pub unit: &'static str,
    /// How values are written in the table (`num`, `secs`, `pct`).
    pub style: &'static str,
    /// The time axis' span, seconds since the epoch.
    pub from: f64,
    /// The time axis' end.
    pub to: f64,
    /// The series.
    pub series: Vec<Series>,
}

/// `t` (seconds since the epoch) as a time-axis label: `HH:MM` for spans
/// up to a day, `MM-DD HH:MM` beyond (UTC).
pub fn clock(t: f64, span: f64) -> String {
    // Times come from the API (1970 to 9999); anything else is drawn as 1970.
    let at = Duration::try_from_secs_f64(t)
        .ok()
        .filter(|d| d.as_secs() <= 253_402_300_799)
        .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let s = humantime::format_rfc3339_seconds(at).to_string();
    if span <= 86_400.0 {
        s[11..16].to_string()
    } else {
        format!("{} {}", &s[5..10], &s[11..16])
    }
}

/// The stretches of `points` with values, each drawn as one line.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![];
    let mut run = vec![];
    for &(t, v) in points {
        match v {
            Some(v) if v.is_finite() => run.push((t, v)),
            _ if !run.is_empty() => out.push(std::mem::take(&mut run)),
            _ => {}
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

impl Chart {
    /// How many values the chart draws.
    pub fn values(&self) -> usize {
        self.series
            .iter()
            .flat_map(|s| &s.points)
            .filter(|(_, v)| v.is_some_and(f64::is_finite))
            .count()
    }

    /// The SVG, with `restarts` (seconds since the epoch) marked; `None`
    /// when there is no value to draw (or plotters refused).
    pub fn svg(&self, restarts: &[f64]) -> Option<String> {
        if self.values() == 0 {
            return None;
        }
        let mut out = String::new();
        self.draw(&mut out, restarts).ok()?;
        Some(out.replacen(
            "<svg ",
            &format!(
                "<svg role=\"img\" aria-label=\"{}, {}\" ",
                self.title, self.unit
            ),
            1,
        ))
    }

    fn draw(&self, out: &mut String, restarts: &[f64]) -> Result<(), Box<dyn std::error::Error>> {
        let top = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .filter_map(|(_, v)| *v)
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        // Headroom above the highest value; a flat zero line still gets an axis.
        let top = if top > 0.0 { top * 1.15 } else { 1.0 };
        let span = (self.to - self.from).max(1.0);
        let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(self.from..self.to, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("time (UTC)")
            .y_desc(self.unit)
            .x_labels(7)
            .y_labels(6)
            .x_label_formatter(&|x| clock(*x, span))
            .y_label_formatter(&|y| format::number(*y))
            .max_light_lines(1)
            .light_line_style(RGBColor(0xf2, 0xf2, 0xf2))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .draw()?;
        for &t in restarts {
            let mark = BLACK.stroke_width(1);
            chart.draw_series(DashedLineSeries::new([(t, 0.0), (t, top)], 3, 3, mark))?;
            chart.draw_series(std::iter::once(Text::new(
                "restart",
                (t, top * 0.97),
                ("sans-serif", 12).into_font().color(&BLACK),
            )))?;
        }
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let line = color.stroke_width(2);
            let solid = i % 2 == 0;
            for run in segments(&s.points) {
                if solid {
                    chart.draw_series(LineSeries::new(run, line))?;
                } else {
                    chart.draw_series(DashedLineSeries::new(run, 8, 4, line))?;
                }
            }
            let points = segments(&s.points).into_iter().flatten();
            let key = move |(x, y): (i32, i32)| {
                EmptyElement::at((x, y)) + PathElement::new(vec![(-12, 0), (12, 0)], line)
            };
            if solid {
                chart
                    .draw_series(points.map(|p| Circle::new(p, 3, color.filled())))?
                    .label(s.name)
                    .legend(move |p| key(p) + Circle::new((0, 0), 3, color.filled()));
            } else {
                chart
                    .draw_series(points.map(|p| TriangleMarker::new(p, 4, color.filled())))?
                    .label(s.name)
                    .legend(move |p| key(p) + TriangleMarker::new((0, 0), 4, color.filled()));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .label_font(("sans-serif", 13))
            .draw()?;
        root.present()?;
        Ok(())
    }

    /// The table under the chart: `{columns, rows: [{at, values}]}`, one
    /// row per time at which any series has a value.
    pub fn table(&self) -> Value {
        let span = self.to - self.from;
        let times = self.series.first().map_or(&[][..], |s| &s.points[..]);
        let rows: Vec<Value> = times
            .iter()
            .enumerate()
            .filter(|(i, _)| self.series.iter().any(|s| s.points[*i].1.is_some()))
            .map(|(i, (t, _))| {
                json!({
                    "at": clock(*t, span.max(86_401.0)),
                    "values": self.series.iter().map(|s| s.points[i].1).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "columns": self.series.iter().map(|s| s.name).collect::<Vec<_>>(),
            "rows": rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: &[Option<f64>]) -> Chart {
        Chart {
            title: "Generation",
            unit: "tokens/s",
            style: "num",
            from: 1_000.0,
            to: 1_000.0 + 60.0 * values.len() as f64,
            series: vec![Series {
                name: "generation",
                points: values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (1_000.0 + 60.0 * i as f64, *v))
                    .collect(),
            }],
        }
    }

    #[test]
    fn gaps_break_the_line_and_empty_charts_are_not_drawn() {
        let c = chart(&[Some(1.0), Some(2.0), None, Some(3.0)]);
        assert_eq!(segments(&c.series[0].points).len(), 2);
        assert_eq!(c.values(), 3);
        let svg = c.svg(&[1_060.0]).unwrap();
        assert!(svg.contains("tokens/s") && svg.contains("restart"), "{svg}");
        assert_eq!(c.table()["rows"].as_array().unwrap().len(), 3);
        assert!(chart(&[None, None]).svg(&[]).is_none());
        assert_eq!(clock(f64::NAN, 60.0), "00:00");
        assert_eq!(clock(1e300, 60.0), "00:00");
    }
}
