//! SVG plots of a report: the latency distribution (percentile curve) and
//! throughput over time, one line per target. Plotters' SVG backend needs
//! no system fonts: the text is left to the viewer.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::report::{Latency, Report, StormRun};

/// One chart: a title, axis names and named lines.
struct Panel {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    /// Plot x as -log10(1 - x/100): percentiles spread out toward 100.
    percentile_x: bool,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Writes the plots of `report` to `path`; `Ok(false)` when the scenario
/// has nothing to plot.
pub fn write(report: &Report, path: &Path) -> anyhow::Result<bool> {
    let panels = match report {
        Report::Storm(runs) => storm_panels(runs.iter().map(|run| (run.target.to_string(), run))),
        Report::StormPeak(runs) => {
            let steps = runs.iter().flat_map(|run| {
                run.steps.iter().map(move |step| {
                    (
                        format!(
                            "{} {}/s",
                            run.target,
                            crate::report::rate(step.deliveries_per_s)
                        ),
                        step,
                    )
                })
            });
            storm_panels(steps)
        }
        Report::Ramp(runs) => {
            let steps = runs.iter().flat_map(|run| {
                run.steps
                    .iter()
                    .map(move |step| (format!("{} {} rcv", run.target, step.receivers), step))
            });
            storm_panels(steps)
        }
        Report::BroadcastOnce(runs) => vec![latency_panel(
            "broadcast-once: receipt time across receivers",
            runs.iter()
                .map(|run| (run.target.to_string(), &run.latency)),
        )],
        Report::Smoke(_) | Report::Chat(_) | Report::Connections(_) => return Ok(false),
    };
    draw(path, &panels)?;
    Ok(true)
}

fn storm_panels<'a>(runs: impl Iterator<Item = (String, &'a StormRun)> + Clone) -> Vec<Panel> {
    vec![
        latency_panel(
            "end-to-end latency",
            runs.clone().map(|(name, run)| (name, &run.latency)),
        ),
        Panel {
            title: "deliveries per second".into(),
            x_desc: "seconds",
            y_desc: "deliveries/s",
            percentile_x: false,
            series: runs
                .map(|(name, run)| (name, run.timeline.clone()))
                .collect(),
        },
    ]
}

fn latency_panel<'a>(title: &str, runs: impl Iterator<Item = (String, &'a Latency)>) -> Panel {
    Panel {
        title: title.into(),
        x_desc: "percentile (log scale toward 100)",
        y_desc: "ms",
        percentile_x: true,
        series: runs
            .map(|(name, latency)| (name, latency.curve.clone()))
            .collect(),
    }
}

fn draw(path: &Path, panels: &[Panel]) -> anyhow::Result<()> {
    let width = 640 * panels.len() as u32;
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|err| anyhow!("{err}"))?;
    let areas = root.split_evenly((1, panels.len()));
    for (panel, area) in panels.iter().zip(&areas) {
        draw_panel(panel, area).map_err(|err| anyhow!("drawing {}: {err}", panel.title))?;
    }
    root.present().map_err(|err| anyhow!("{err}"))?;
    Ok(())
}

/// x for a percentile: 0 at p0, 1 at p90, 2 at p99, 3 at p99.9 ...
fn percentile_x(pct: f64) -> f64 {
    -(1.0 - pct.min(99.999) / 100.0).log10()
}

fn draw_panel(
    panel: &Panel,
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
) -> Result<(), Box<dyn std::error::Error>> {
    let series: Vec<(String, Vec<(f64, f64)>)> = panel
        .series
        .iter()
        .map(|(name, points)| {
            let points = points
                .iter()
                .map(|&(x, y)| {
                    (
                        if panel.percentile_x {
                            percentile_x(x)
                        } else {
                            x
                        },
                        y,
                    )
                })
                .collect();
            (name.clone(), points)
        })
        .collect();
    let all = series.iter().flat_map(|(_, points)| points.iter());
    let x_max = all.clone().map(|p| p.0).fold(0.0f64, f64::max).max(1e-3);
    let y_max = all.map(|p| p.1).fold(0.0f64, f64::max).max(1e-3) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    let percentile = panel.percentile_x;
    chart
        .configure_mesh()
        .x_desc(panel.x_desc)
        .y_desc(panel.y_desc)
        .x_label_formatter(&|x| {
            if percentile {
                format!("{:.3}", 100.0 * (1.0 - 10f64.powf(-x)))
            } else {
                format!("{x:.1}")
            }
        })
        .draw()?;
    for (idx, (name, points)) in series.into_iter().enumerate() {
        let color = COLORS[idx % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
