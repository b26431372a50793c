//! The chart (`compare.svg`, drawn with plotters): each server's median
//! throughput relative to a reference server, one group of bars per
//! scenario.

use std::path::Path;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{median_of, Sample};
use crate::scenarios::Scenario;
use crate::servers::Server;
use crate::Args;

fn color(server: Server) -> RGBColor {
    match server {
        Server::EchoReactor => RGBColor(214, 39, 40),
        Server::EchoReactorBaseline => RGBColor(140, 86, 75),
        Server::EchoReactorTwo => RGBColor(244, 150, 140),
        Server::EpollEcho => RGBColor(110, 110, 110),
        Server::TokioCurrent => RGBColor(31, 119, 180),
        Server::TokioMulti => RGBColor(140, 190, 230),
        Server::TokioTungstenite => RGBColor(44, 160, 44),
    }
}

/// The chart's x axis: group `i` spans `i..i + 1`, its one tick (and
/// label) at `i + 0.5`.
struct GroupAxis(usize);

impl Ranged for GroupAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        let share = value / self.0.max(1) as f64;
        from + (share * (to - from) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.0).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.0 as f64
    }
}

/// Grouped bars, one group per scenario: each server's median throughput
/// divided by the reference server's (epoll-echo, or tokio-current without
/// it). The fixed-rate groups show echoes and lifecycles per CPU-second,
/// so higher is better everywhere.
pub fn draw_chart(
    path: &Path,
    args: &Args,
    servers: &[Server],
    scenarios: &[Scenario],
    samples: &[Sample],
) -> Result<(), Box<dyn std::error::Error>> {
    let measured = |server| samples.iter().any(|s| s.server == server && s.repeat > 0);
    let reference = if measured(Server::EpollEcho) {
        Server::EpollEcho
    } else {
        Server::TokioCurrent
    };
    let groups: Vec<(String, Vec<(Server, f64)>)> = scenarios
        .iter()
        .filter_map(|s| {
            let headline = s.headline();
            let value = |server| {
                median_of(samples, s.key, headline.metric, server).map(|v| {
                    if headline.higher_is_better {
                        v
                    } else {
                        1.0 / v
                    }
                })
            };
            let base = value(reference).filter(|b| *b > 0.0)?;
            let bars = servers
                .iter()
                .filter_map(|&server| value(server).map(|v| (server, v / base)))
                .collect();
            Some((s.short.clone(), bars))
        })
        .collect();
    let subtitle = format!(
        "medians of {} interleaved repeat(s){}; last two groups: echoes and lifecycles per \
         server CPU-second at a fixed {} msg/s and {} lifecycles/s",
        args.repeats,
        if args.quick { ", --quick" } else { "" },
        args.rate,
        args.churn_rate
    );
    let per_group = servers.len() as f64;
    let bar = 0.8 / per_group;
    let top = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|(_, v)| *v))
        .fold(1.0f64, f64::max)
        * 1.3;
    // Room for every group's bars and its label.
    let width = 200 + 150 * groups.len() as u32;
    let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title_area, plot_area) = root.split_vertically(50);
    title_area.titled(
        &format!(
            "Throughput relative to {} (1.0 = {}; higher is better)",
            reference.name(),
            reference.name()
        ),
        ("sans-serif", 20),
    )?;
    title_area.draw(&Text::new(
        subtitle.to_string(),
        (10, 32),
        ("sans-serif", 12).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(GroupAxis(groups.len()), 0.0..top)?;
    let names: Vec<String> = groups.iter().map(|(name, _)| name.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|x| names.get(*x as usize).cloned().unwrap_or_default())
        .x_label_style(("sans-serif", 13))
        .y_desc(format!("median / {} median", reference.name()))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 1.0), (groups.len() as f64, 1.0)],
        BLACK.stroke_width(1),
    )))?;
    for (j, server) in servers.iter().enumerate() {
        let color = color(*server);
        let x0 = |i: usize| i as f64 + 0.1 + j as f64 * bar;
        let bars: Vec<(f64, f64)> = groups
            .iter()
            .enumerate()
            .filter_map(|(i, (_, values))| {
                values
                    .iter()
                    .find(|(s, _)| s == server)
                    .map(|(_, v)| (x0(i), *v))
            })
            .collect();
        chart
            .draw_series(bars.iter().map(|&(x, v)| {
                Rectangle::new([(x + 0.01, 0.0), (x + bar - 0.01, v)], color.filled())
            }))?
            .label(server.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled()));
        let value_style = ("sans-serif", 11)
            .into_font()
            .into_text_style(&plot_area)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(bars.iter().map(|&(x, v)| {
            Text::new(format!("{v:.2}"), (x + bar / 2.0, v), value_style.clone())
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    Ok(())
}
